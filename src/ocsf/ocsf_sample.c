/* ocsf_sample.c - descriptor-driven minimal/maximal sample events.
 *
 * DESIGN: see ocsf_sample.h. The builder only uses the generic field API
 * (ocsf_field_*), so it exercises the same paths as any other tool, and it
 * keeps a small set of the object types it has expanded fully.
 */
#include "ocsf_sample.h"

#include <string.h>

#define MAX_TYPES 512

struct sb {
	enum ocsf_sample_mode mode;
	ocsf_sample_cb cb;
	void *ctx;
	const struct ocsf_object *expanded[MAX_TYPES];
	unsigned n_expanded;
	int err;
};

static bool name_in(const char *name, const char *const *list)
{
	for (; *list; list++)
		if (strcmp(name, *list) == 0)
			return true;
	return false;
}

static const char *const email_names[] = {"cc",
					  "delivered_to",
					  "delivered_to_list",
					  "email_addr",
					  "email_addrs",
					  "forward_addr",
					  "from",
					  "from_list",
					  "from_mailboxes",
					  "reply_to",
					  "reply_to_list",
					  "return_path",
					  "sender",
					  "smtp_from",
					  "smtp_to",
					  "to",
					  NULL};
static const char *const ip_names[] = {"ip", "intermediate_ips", "x_forwarded_for",
				       "x_originating_ip", NULL};
static const char *const uuid_names[] = {"cpid", "os_machine_uuid", "pod_uuid", "uuid", NULL};
static const char *const url_names[] = {"cwe_url",
					"exploit_ref_url",
					"license_url",
					"login_endpoint",
					"logout_endpoint",
					"metadata_endpoint",
					"package_manager_url",
					"src_url",
					"uri",
					"url_string",
					NULL};

const char *ocsf_sample_string(const char *name)
{
	if (name_in(name, email_names))
		return "analyst@example.com";
	if (name_in(name, ip_names))
		return "192.0.2.10";
	if (name_in(name, uuid_names))
		return "123e4567-e89b-12d3-a456-426614174000";
	if (name_in(name, url_names))
		return "https://example.com/sample/path";
	if (strcmp(name, "mac") == 0)
		return "00:16:3e:12:34:56";
	if (strcmp(name, "subnet") == 0)
		return "192.0.2.0/24";
	if (strcmp(name, "hostname") == 0)
		return "sample-host.example.com";
	if (strcmp(name, "path") == 0 || strcmp(name, "lineage") == 0)
		return "/usr/bin/sample";
	/* fingerprint.value is a file_hash_t: hex only; fine for any "value". */
	if (strcmp(name, "value") == 0)
		return "5d41402abc4b2a76b9719d911017c592";
	return NULL;
}

static bool was_expanded(struct sb *b, const struct ocsf_object *d)
{
	for (unsigned i = 0; i < b->n_expanded; i++)
		if (b->expanded[i] == d)
			return true;
	return false;
}

/* Fields the builder never sets itself. */
static bool builder_skips(const struct ocsf_object *d, const struct ocsf_field *f, bool is_class)
{
	if (f->flags & (OCSF_F_DEPRECATED | OCSF_F_DERIVED | OCSF_F_CAPTION))
		return true;
	if (is_class && (strcmp(f->name, "activity_id") == 0 || strcmp(f->name, "time") == 0 ||
			 strcmp(f->name, "severity_id") == 0))
		return true; /* set up front */
	if (strcmp(d->name, "metadata") == 0 &&
	    (strcmp(f->name, "version") == 0 || strcmp(f->name, "profiles") == 0))
		return true;
	return false;
}

static int64_t clamp(const struct ocsf_field *f, int64_t v)
{
	if (f->has_range) {
		if ((double)v < f->min)
			v = (int64_t)f->min;
		if ((double)v > f->max)
			v = (int64_t)f->max;
	}
	return v;
}

static const struct ocsf_enum_item *pick_enum(const struct ocsf_enum *e)
{
	const struct ocsf_enum_item *first = NULL;
	for (uint32_t i = 0; e && i < e->count; i++) {
		const struct ocsf_enum_item *it = &e->items[i];
		if (!first)
			first = it;
		if (!it->deprecated && it->value != 0 && it->value != 99)
			return it;
	}
	return first;
}

static void fill(struct sb *b, struct ocsf_hdr *o, bool full, bool is_class);

/* An observable points at an attribute of the same event: its name is that
 * attribute's path, its type_id fits the attribute's type and its value is
 * the attribute's value. Every class carries device (host profile) and the
 * builder sets device.hostname to ocsf_sample_string("hostname"), a
 * hostname_t: observable type 1, Hostname. */
#define SAMPLE_OBSERVABLE_PATH	  "device.hostname"
#define SAMPLE_OBSERVABLE_TYPE_ID 1

static bool is_observable(const struct ocsf_hdr *o)
{
	return strcmp(o->desc->name, "observable") == 0;
}

static int set_one(struct sb *b, struct ocsf_hdr *o, unsigned i, bool full)
{
	const struct ocsf_field *f = &o->desc->fields[i];
	int rc = OSH_EINVAL;

	switch (f->kind) {
	case OCSF_K_STRING: {
		const char *s = ocsf_sample_string(f->name);

		if (is_observable(o) && strcmp(f->name, "name") == 0)
			s = SAMPLE_OBSERVABLE_PATH;
		else if (is_observable(o) && strcmp(f->name, "value") == 0)
			s = ocsf_sample_string("hostname");
		rc = ocsf_field_set_str(o, i, s ? s : f->name);
		break;
	}
	case OCSF_K_JSON:
		rc = ocsf_field_set_str(o, i, "{\"sample\":[1,\"two\",true]}");
		break;
	case OCSF_K_ENUM_STR: {
		const struct ocsf_enum_item *it = pick_enum(f->enumeration);
		rc = ocsf_field_set_str(o, i, it && it->key ? it->key : "");
		break;
	}
	case OCSF_K_ENUM_INT: {
		const struct ocsf_enum_item *it = pick_enum(f->enumeration);

		if (is_observable(o) && strcmp(f->name, "type_id") == 0)
			rc = ocsf_field_set_int(o, i, SAMPLE_OBSERVABLE_TYPE_ID);
		else
			rc = ocsf_field_set_int(o, i, it ? it->value : 0);
		break;
	}
	case OCSF_K_INT:
		rc = ocsf_field_set_int(o, i, clamp(f, 7));
		break;
	case OCSF_K_LONG:
		rc = ocsf_field_set_int(o, i, clamp(f, 1764410000123LL));
		break;
	case OCSF_K_PORT:
		rc = ocsf_field_set_int(o, i, clamp(f, 443));
		break;
	case OCSF_K_FLOAT: {
		double v = 0.5;
		if (f->has_range && (v < f->min || v > f->max))
			v = f->min;
		rc = ocsf_field_set_float(o, i, v);
		break;
	}
	case OCSF_K_BOOL:
		rc = ocsf_field_set_bool(o, i, true);
		break;
	case OCSF_K_OPEN_OBJECT: {
		struct ocsf_kv kv = {
		    .key = "sample_key", .type = OCSF_KV_STRING, .v.s = "sample value"};
		rc = ocsf_field_open_add(o, i, &kv);
		break;
	}
	case OCSF_K_OBJECT: {
		if (!f->object || o->depth + 1 > OCSF_MAX_DEPTH) {
			rc = OSH_EDEPTH; /* left out, not an error of the event */
			break;
		}
		bool child_full = full && b->mode == OCSF_SAMPLE_MAXIMAL &&
				  !was_expanded(b, f->object) && b->n_expanded < MAX_TYPES;
		if (child_full)
			b->expanded[b->n_expanded++] = f->object;
		struct ocsf_hdr *c = ocsf_field_object(o, i);
		if (!c || o->arena->err) {
			rc = o->arena->err ? o->arena->err : OSH_EINVAL;
			break;
		}
		fill(b, c, child_full, false);
		rc = o->arena->err;
		break;
	}
	default:
		break;
	}
	return rc;
}

static void fill(struct sb *b, struct ocsf_hdr *o, bool full, bool is_class)
{
	const struct ocsf_object *d = o->desc;
	/* per field: 0 = default rule, 1 = must set, 2 = must not set */
	uint8_t plan[1024];
	unsigned n = d->n_fields < 1024 ? d->n_fields : 1024;
	unsigned settable = 0, set = 0;

	memset(plan, 0, n);
	for (unsigned k = 0; k < d->n_constraints; k++) {
		const struct ocsf_constraint *c = &d->constraints[k];
		int chosen = -1;
		/* Prefer a core, non-deprecated member; scalars before objects. */
		for (int pass = 0; pass < 3 && chosen < 0; pass++) {
			for (const int16_t *fi = c->fields; *fi >= 0 && chosen < 0; fi++) {
				if ((unsigned)*fi >= n)
					continue;
				const struct ocsf_field *f = &d->fields[*fi];
				if (f->flags & OCSF_F_DEPRECATED)
					continue;
				if (pass == 0 && (f->profile >= 0 || f->kind == OCSF_K_OBJECT))
					continue;
				if (pass == 1 && f->profile >= 0)
					continue;
				chosen = *fi;
			}
		}
		for (const int16_t *fi = c->fields; *fi >= 0; fi++) {
			if ((unsigned)*fi >= n)
				continue;
			if (*fi == chosen)
				plan[*fi] = 1;
			else if (c->just_one)
				plan[*fi] = 2;
		}
	}
	for (unsigned i = 0; i < n && !b->err; i++) {
		const struct ocsf_field *f = &d->fields[i];
		if (builder_skips(d, f, is_class) || plan[i] == 2)
			continue;
		settable++;
		bool want;
		if (full && b->mode == OCSF_SAMPLE_MAXIMAL)
			want = true;
		else
			want = plan[i] == 1 || ((f->flags & OCSF_F_REQUIRED) && f->profile < 0) ||
			       (is_observable(o) &&
				(strcmp(f->name, "name") == 0 || strcmp(f->name, "value") == 0));
		if (!want)
			continue;
		int rc = set_one(b, o, i, full);
		if (rc == 0)
			set++;
		else if (o->arena->err)
			b->err = o->arena->err;
	}
	if (b->cb)
		b->cb(b->ctx, d, set, settable, full && b->mode == OCSF_SAMPLE_MAXIMAL);
}

int ocsf_sample_build(struct ocsf_event *ev, enum ocsf_sample_mode mode, ocsf_sample_cb cb,
		      void *ctx)
{
	struct sb b; /* 4 KiB of type pointers: fine on a tool's stack */
	const struct ocsf_class *cls = ev ? ev->cls : NULL;
	int rc = OSH_EINVAL;

	if (!cls || !cls->object)
		goto out;
	memset(&b, 0, sizeof(b));
	b.mode = mode;
	b.cb = cb;
	b.ctx = ctx;
	const struct ocsf_enum_item *act = pick_enum(cls->activity);
	if (cls->activity_field >= 0)
		ocsf_field_set_int(&ev->hdr, (unsigned)cls->activity_field, act ? act->value : 0);
	if (cls->time_field >= 0)
		ocsf_field_set_int(&ev->hdr, (unsigned)cls->time_field, 1764410000123LL);
	if (cls->severity_field >= 0)
		ocsf_field_set_int(&ev->hdr, (unsigned)cls->severity_field, 1);
	b.expanded[b.n_expanded++] = cls->object;
	fill(&b, &ev->hdr, true, true);
	rc = b.err ? b.err : ev->arena.err;
out:
	return rc;
}
