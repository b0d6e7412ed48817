/* osh_labels.c - see osh_labels.h.
 *
 * DESIGN: labels are small (64 x 127 bytes at most), so encoding sorts an
 * index array with qsort and writes one buffer sized exactly; matching is a
 * merge of two sorted texts without allocating. Errors quote the label with
 * non-printable bytes escaped, so an error line stays one line. */
#include "osh_labels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool key_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '.' || c == '_' || c == '/' || c == '-';
}

static bool alnum(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Copies at most 40 bytes of s into out, non-printable bytes as \xNN. */
static const char *quote(const char *s, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < 40 && s[i] && o + 5 < cap; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c >= 0x20 && c < 0x7f && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
	}
	if (strlen(s) > 40 && o + 4 < cap) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return out;
}

int osh_labels_check(const char *key, const char *value, char *err, size_t errlen)
{
	char q[200];
	size_t kl = strlen(key), vl = strlen(value);
	int rc = OSH_EINVAL;

	if (kl == 0) {
		snprintf(err, errlen, "label '=%s': empty key", quote(value, q, sizeof(q)));
		goto out;
	}
	if (kl > OSH_LABEL_KEY_MAX) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "label key '%s': longer than %d characters",
			 quote(key, q, sizeof(q)), OSH_LABEL_KEY_MAX);
		goto out;
	}
	if (!alnum((unsigned char)key[0])) {
		snprintf(err, errlen, "label key '%s': must start with a letter or digit",
			 quote(key, q, sizeof(q)));
		goto out;
	}
	for (size_t i = 0; i < kl; i++) {
		if (!key_char((unsigned char)key[i])) {
			snprintf(err, errlen,
				 "label key '%s': character %zu is not one of A-Z a-z 0-9 . _ / -",
				 quote(key, q, sizeof(q)), i + 1);
			goto out;
		}
	}
	if (vl > OSH_LABEL_VALUE_MAX) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "label '%s': value longer than %d characters", key,
			 OSH_LABEL_VALUE_MAX);
		goto out;
	}
	for (size_t i = 0; i < vl; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c < 0x20 || c > 0x7e) {
			snprintf(err, errlen,
				 "label '%s': value character %zu is not printable ASCII (0x%02x)",
				 key, i + 1, c);
			goto out;
		}
	}
	rc = 0;
out:
	return rc;
}

struct pair {
	const char *k, *v;
};

static int pair_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pair *)a)->k, ((const struct pair *)b)->k);
}

int osh_labels_encode(const char *const *keys, const char *const *values, size_t n, char **out,
		      char *err, size_t errlen)
{
	struct pair p[OSH_LABELS_MAX];
	size_t len = 1, o = 0;
	char *buf = NULL;
	int rc = OSH_ETOOBIG;

	*out = NULL;
	if (n > OSH_LABELS_MAX) {
		snprintf(err, errlen, "%zu labels: at most %d", n, OSH_LABELS_MAX);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		rc = osh_labels_check(keys[i], values[i], err, errlen);
		if (rc != 0)
			goto out;
		p[i].k = keys[i];
		p[i].v = values[i];
		len += strlen(keys[i]) + strlen(values[i]) + 2;
	}
	if (n > 0)
		qsort(p, n, sizeof(p[0]), pair_cmp);
	for (size_t i = 1; i < n; i++) {
		if (strcmp(p[i - 1].k, p[i].k) == 0) {
			rc = OSH_EEXIST;
			snprintf(err, errlen, "label '%s' given twice", p[i].k);
			goto out;
		}
	}
	rc = OSH_ENOMEM;
	buf = malloc(len);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s=%s\n", p[i].k, p[i].v);
	buf[o] = '\0';
	*out = buf;
	buf = NULL;
	rc = 0;
out:
	free(buf);
	return rc;
}

int osh_labels_split(const char *kv, char key[OSH_LABEL_KEY_MAX + 1],
		     char value[OSH_LABEL_VALUE_MAX + 1], char *err, size_t errlen)
{
	const char *eq = strchr(kv, '=');
	size_t kl = eq ? (size_t)(eq - kv) : 0;
	char q[200];
	int rc = OSH_EINVAL;

	key[0] = value[0] = '\0';
	if (!eq) {
		snprintf(err, errlen, "label '%s': expected KEY=VALUE", quote(kv, q, sizeof(q)));
		goto out;
	}
	if (kl > OSH_LABEL_KEY_MAX) {
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "label key '%s': longer than %d characters",
			 quote(kv, q, sizeof(q)), OSH_LABEL_KEY_MAX);
		goto out;
	}
	if (strlen(eq + 1) > OSH_LABEL_VALUE_MAX) {
		memcpy(key, kv, kl);
		key[kl] = '\0';
		rc = OSH_ETOOBIG;
		snprintf(err, errlen, "label '%s': value longer than %d characters",
			 quote(key, q, sizeof(q)), OSH_LABEL_VALUE_MAX);
		goto out;
	}
	memcpy(key, kv, kl);
	key[kl] = '\0';
	snprintf(value, OSH_LABEL_VALUE_MAX + 1, "%s", eq + 1);
	rc = osh_labels_check(key, value, err, errlen);
out:
	return rc;
}

/* Reads one "K=V\n" line of a canonical text without the order check. */
static int next_line(const char **cursor, char key[OSH_LABEL_KEY_MAX + 1],
		     char value[OSH_LABEL_VALUE_MAX + 1])
{
	const char *p = *cursor, *eq, *nl;
	char e[8];
	int rc = OSH_EPARSE;

	if (p == NULL || *p == '\0') {
		rc = 0;
		goto out;
	}
	nl = strchr(p, '\n');
	eq = memchr(p, '=', nl ? (size_t)(nl - p) : 0);
	if (!nl || !eq || (size_t)(eq - p) > OSH_LABEL_KEY_MAX ||
	    (size_t)(nl - eq - 1) > OSH_LABEL_VALUE_MAX)
		goto out;
	memcpy(key, p, (size_t)(eq - p));
	key[eq - p] = '\0';
	memcpy(value, eq + 1, (size_t)(nl - eq - 1));
	value[nl - eq - 1] = '\0';
	if (osh_labels_check(key, value, e, sizeof(e)) != 0)
		goto out;
	*cursor = nl + 1;
	rc = 1;
out:
	return rc;
}

int osh_labels_next(const char **cursor, char key[OSH_LABEL_KEY_MAX + 1],
		    char value[OSH_LABEL_VALUE_MAX + 1])
{
	const char *start = *cursor;
	int rc = next_line(cursor, key, value);

	/* The next line's key must sort after this one's (no repeats). */
	if (rc == 1 && **cursor != '\0') {
		const char *n = *cursor, *eq = strchr(n, '=');
		size_t kl = strlen(key), nl = eq ? (size_t)(eq - n) : 0;
		int c = strncmp(key, n, kl < nl ? kl : nl);

		if (!eq || c > 0 || (c == 0 && kl >= nl)) {
			*cursor = start;
			rc = OSH_EPARSE;
		}
	}
	return rc;
}

int osh_labels_validate(const char *text, char *err, size_t errlen)
{
	char k[OSH_LABEL_KEY_MAX + 1], v[OSH_LABEL_VALUE_MAX + 1];
	const char *c = text;
	size_t n = 0;
	int r;

	while ((r = osh_labels_next(&c, k, v)) == 1 && ++n <= OSH_LABELS_MAX)
		;
	if (r < 0)
		snprintf(err, errlen, "labels: not canonical at byte %zu", (size_t)(c - text));
	else if (n > OSH_LABELS_MAX)
		snprintf(err, errlen, "labels: more than %d", OSH_LABELS_MAX);
	return r < 0 || n > OSH_LABELS_MAX ? OSH_EPARSE : 0;
}

int osh_labels_selector_parse(const char *selector, char **out, char *err, size_t errlen)
{
	char keys[OSH_LABELS_MAX][OSH_LABEL_KEY_MAX + 1];
	char vals[OSH_LABELS_MAX][OSH_LABEL_VALUE_MAX + 1];
	const char *kp[OSH_LABELS_MAX], *vp[OSH_LABELS_MAX];
	char term[OSH_LABEL_KEY_MAX + OSH_LABEL_VALUE_MAX + 3], e[200];
	const char *p = selector ? selector : "";
	size_t n = 0;
	int rc = 0;

	*out = NULL;
	while (rc == 0 && *p != '\0') {
		const char *comma = strchr(p, ',');
		size_t tl = comma ? (size_t)(comma - p) : strlen(p);

		if (n == OSH_LABELS_MAX) {
			rc = OSH_ETOOBIG;
			snprintf(err, errlen, "selector: more than %d terms", OSH_LABELS_MAX);
			break;
		}
		if (tl >= sizeof(term)) {
			rc = OSH_ETOOBIG;
			snprintf(err, errlen, "selector term %zu: longer than %zu characters",
				 n + 1, sizeof(term) - 1);
			break;
		}
		memcpy(term, p, tl);
		term[tl] = '\0';
		rc = osh_labels_split(term, keys[n], vals[n], e, sizeof(e));
		if (rc != 0) {
			snprintf(err, errlen, "selector term %zu: %s", n + 1, e);
			break;
		}
		kp[n] = keys[n];
		vp[n] = vals[n];
		n++;
		p += tl;
		if (*p == ',' && p[1] == '\0') {
			rc = OSH_EINVAL;
			snprintf(err, errlen, "selector: empty term after the last ','");
		} else if (*p == ',') {
			p++;
		}
	}
	if (rc == 0) {
		rc = osh_labels_encode(kp, vp, n, out, e, sizeof(e));
		if (rc != 0)
			snprintf(err, errlen, "selector: %s", e);
	}
	return rc;
}

bool osh_labels_match(const char *labels, const char *selector)
{
	char sk[OSH_LABEL_KEY_MAX + 1], sv[OSH_LABEL_VALUE_MAX + 1];
	char lk[OSH_LABEL_KEY_MAX + 1], lv[OSH_LABEL_VALUE_MAX + 1];
	const char *s = selector, *l = labels;
	bool ok = true;
	int rs = 0, rl = 1, c = 1;

	while (ok && (rs = osh_labels_next(&s, sk, sv)) == 1) {
		/* Advance the labels to the first key not below the selector's. */
		c = 1;
		while ((rl = osh_labels_next(&l, lk, lv)) == 1 && (c = strcmp(lk, sk)) < 0)
			;
		ok = rl == 1 && c == 0 && strcmp(lv, sv) == 0;
	}
	return ok && rs == 0;
}
