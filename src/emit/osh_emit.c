/* osh_emit.c - emission runtime: producers, the writer thread, loss reports.
 *
 * DESIGN
 * Producers (any thread) do all CPU work of a log line themselves: enrich the
 * event, format the shorthand and, while JSONL is on, the JSON line into
 * thread-local buffers, then copy one record into the bounded byte ring
 * (emit_ring.c) and return. They never allocate, never touch a file, and
 * never wait for the writer: a full ring drops the record and counts it.
 * The writer thread is the only owner of the files (emit_sink.c): it adds the
 * timestamp prefix, appends, rotates, reopens on request, opens/closes the
 * JSONL file as the toggle says, and writes loss reports as events.
 *
 * No wake-up per event: after a batch the writer dozes on a short timer
 * (DOZE_MS) and drains whatever arrived meanwhile; producers leave a dozing
 * writer alone unless the queue passes a watermark (a quarter of it). Only
 * after IDLE_DOZES empty dozes does the writer announce a long sleep
 * (W_SLEEP) and re-check the queue; a producer that then commits a record
 * and sees W_SLEEP swaps it for W_AWAKE and writes the eventfd once. So a
 * steady trickle of events costs producers an atomic load each, never a
 * syscall or a cross-CPU wake-up, and a line reaches its file at most
 * DOZE_MS after its emit (docs/logging.md). Flush, reopen, the JSONL toggle
 * and shutdown always write the eventfd (a signal handler can too: eventfd
 * write is async-signal-safe), so osh_emit_flush() stays exact and prompt.
 *
 * No second copy: a record holds the finished line (with a slot for the
 * timestamp, which the writer fills in place) and the JSON line; the writer
 * hands both to writev() straight from the queue and gives the space back
 * after the write.
 *
 * JSONL toggle: the flag is read twice by a producer, once before formatting
 * (to skip JSON work when off) and once under the ring lock when committing
 * (the decision point). osh_emit_set_jsonl() stores the flag under the same
 * lock, so every record committed before a disable was decided "on" and every
 * record committed after it "off". The writer reads the flag before draining
 * and closes the file only after draining, so no JSON line can arrive after
 * the close; a JSON record meeting a closed file reopens it (flapping).
 *
 * Shutdown: producers announce themselves in `inflight` before checking
 * `running`; shutdown clears `running` and waits for inflight to reach zero
 * before stopping the writer, so no producer touches a freed ring.
 */
#include "osh_emit.h"

#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "emit_internal.h"
#include "ocsf.h"
#include "ocsf_gen.h"
#include "ocsf_shared.h"
#include "osh_sites.h"
#include "shorthand.h"
#include "osh_time.h"

#define DEFAULT_LOG_DIR	   "/var/log"
#define MAIN_BASE	   "openshell.log"
#define JSONL_BASE	   "openshell-ocsf.log"
#define REPORT_INTERVAL_MS 1000
/* LOG_CONVERT_REFUSED at most this often (the first one at once). */
#define CONVERT_REPORT_MS 60000
#define IDLE_POLL_MS	  1000
/* While records arrive the writer dozes DOZE_MS between batches instead of
 * waiting to be woken; after IDLE_DOZES dozes without a record it sleeps
 * until a producer wakes it. So a line reaches its file at most DOZE_MS
 * (plus the write) after its emit. */
#define DOZE_MS	   2
#define IDLE_DOZES 8
/* Lines written per batch before the queue space is given back. */
#define DRAIN_BATCH 1024

/* Writer states (rt.wstate), read by producers after each commit. */
enum { W_AWAKE = 0, W_DOZE = 1, W_SLEEP = 2 };

static struct {
	struct osh_emit_config cfg;
	struct osh_emit_ring q;
	struct osh_emit_ring push;
	pthread_mutex_t push_drain_mu;
	pthread_mutex_t prog_mu;
	pthread_cond_t prog_cv;
	pthread_t writer;
	_Atomic uint64_t flush_req;
	uint64_t flush_done; /* under prog_mu */
	_Atomic uint64_t emitted, emitted_en, plain, dropped, invalid, push_dropped;
	_Atomic uint64_t reports, reports_jsonl, write_errors, rotations, reopens, wakeups;
	_Atomic int efd;
	_Atomic int inflight;
	_Atomic int stderr_level;
	_Atomic int wstate; /* W_*: awake, dozing on a timer, asleep */
	uint64_t watermark; /* queued bytes that wake a dozing writer */
	_Atomic int reopen_req;
	_Atomic bool running;
	_Atomic bool stop;
	_Atomic bool jsonl;
	_Atomic int jsonl_version; /* enum ocsf_version of the JSON lines written */
	_Atomic uint64_t convert_refused;
	_Atomic bool stall;
	_Atomic bool fallback_flag, jsonl_open_flag;
	bool push_on;

	/* Writer-owned. */
	bool fallback;
	bool json_applied;     /* JSONL state the writer last acted on */
	bool json_open_failed; /* an open failed in this cycle: no retry per line */
	uint64_t rep_dropped, rep_invalid, rep_lost, rep_push_dropped, rep_convert_refused;
	int64_t last_report_ms;
	int64_t last_convert_report_ms; /* 0: none yet */
	char convert_reason[256];	/* the last refusal's reason */
	int convert_version;		/* the version it was refused for */
	size_t errused;
	struct osh_sink main, json;
	char log_dir[3800];
	unsigned char errbuf[OSH_SINK_BUF];
	char wline[OSH_EMIT_LINE_MAX + 256];
	char wshort[OSH_EMIT_LINE_MAX + 1];
	char wjson[OSH_EMIT_JSON_MAX + 1];
} rt = {.efd = -1, .stderr_level = OSH_LEVEL_WARN, .jsonl_version = OCSF_VERSION_1_7_0};

/* Producer scratch: per thread, no heap. */
static _Thread_local char tl_short[OSH_EMIT_LINE_MAX + 1];
static _Thread_local char tl_json[OSH_EMIT_JSON_MAX];
static _Thread_local char tl_raw[2 * OSH_EMIT_LINE_MAX];
static _Thread_local char tl_line[OSH_EMIT_LINE_MAX + 256];
static _Thread_local char tl_mod[OSH_EMIT_TARGET_MAX];

/* ------------------------------------------------------------- helpers */

static int64_t real_clock_ms(void *arg)
{
	(void)arg;
	return osh_time_wall_ms();
}

static int64_t now_ms(void)
{
	return rt.cfg.clock_ms != NULL ? rt.cfg.clock_ms(rt.cfg.clock_arg) : real_clock_ms(NULL);
}

/* Forces the writer up whatever it is doing (flush, toggle, shutdown). */
static void wake_writer(void)
{
	int fd = atomic_load(&rt.efd);
	uint64_t one = 1;

	if (fd >= 0) {
		ssize_t w = write(fd, &one, sizeof(one));

		(void)w;
	}
}

static size_t cap_len(const char *s, size_t max)
{
	return s == NULL ? 0 : strnlen(s, max);
}

/* Writes a whole line to stderr, best effort (no runtime / fallback). */
static void direct_stderr(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		s += w;
		n -= (size_t)w;
	}
}

/* "<ts> OCSF <shorthand>\n" or "<ts> <LEVEL> <module>: <msg>\n" into out. */
static size_t build_line(char *out, size_t cap, int kind, int level, int64_t ts, const char *a,
			 size_t a_len, const char *b, size_t b_len)
{
	char tsb[25];
	const char *lv;
	size_t n = 0, lvn;

	osh_emit_format_ts(ts, tsb);
	for (n = 0; n < 24; n++)
		out[n] = tsb[n];
	out[n++] = ' ';
	if (kind == OSH_REC_EVENT) {
		for (const char *t = "OCSF "; *t != '\0'; t++)
			out[n++] = *t;
	} else {
		lv = osh_level_name((enum osh_level)level);
		lvn = strlen(lv);
		memcpy(out + n, lv, lvn);
		n += lvn;
		out[n++] = ' ';
		if (a_len > OSH_EMIT_TARGET_MAX)
			a_len = OSH_EMIT_TARGET_MAX;
		memcpy(out + n, a, a_len);
		n += a_len;
		out[n++] = ':';
		out[n++] = ' ';
	}
	if (b_len > cap - n - 1)
		b_len = cap - n - 1;
	memcpy(out + n, b, b_len);
	n += b_len;
	out[n++] = '\n';
	return n;
}

/* ------------------------------------------------------------ event uid */

static uint64_t mix64(uint64_t z)
{
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static _Thread_local uint64_t tl_uid_key, tl_uid_ctr;
static _Thread_local bool tl_uid_ready;
/* The high half is fixed per thread: its text ("xxxxxxxx-xxxx-4xxx-") is
 * formatted once. */
static _Thread_local char tl_uid_prefix[20];

/* UUID (version 4 layout) without heap or syscall per event: the high half is
 * random per thread (getrandom once), the low half a bijective mix of a
 * per-thread counter, so ids never repeat within a thread and collide across
 * threads only if two 64-bit random draws do. */
static void event_uid(char out[37])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	uint64_t hi, lo;
	size_t n = 0;

	if (!tl_uid_ready) {
		uint64_t seed[2] = {0, 0};

		if (getrandom(seed, sizeof(seed), GRND_NONBLOCK) != (ssize_t)sizeof(seed)) {
			struct timespec ts;

			clock_gettime(CLOCK_MONOTONIC, &ts);
			seed[0] = mix64((uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32) ^
					(uint64_t)(uintptr_t)&tl_uid_ctr);
			seed[1] = mix64(seed[0] + (uint64_t)ts.tv_sec);
		}
		hi = seed[0];
		tl_uid_key = seed[1];
		for (int i = 0; i < 8; i++)
			b[i] = (unsigned char)(hi >> (56 - 8 * i));
		b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
		for (int i = 0; i < 8; i++) {
			if (i == 4 || i == 6)
				tl_uid_prefix[n++] = '-';
			tl_uid_prefix[n++] = hex[b[i] >> 4];
			tl_uid_prefix[n++] = hex[b[i] & 15];
		}
		tl_uid_prefix[n++] = '-';
		tl_uid_ready = true;
	}
	memcpy(out, tl_uid_prefix, 19);
	n = 19;
	lo = mix64(tl_uid_key + tl_uid_ctr++);
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)(lo >> (56 - 8 * i));
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	for (int i = 8; i < 16; i++) {
		if (i == 10)
			out[n++] = '-';
		out[n++] = hex[b[i] >> 4];
		out[n++] = hex[b[i] & 15];
	}
	out[n] = '\0';
}

/* ----------------------------------------------------------- enrichment */

static void enrich_metadata(struct ocsf_event *ev, struct ocsf_metadata *md,
			    const struct osh_ctx_snap *c)
{
	struct ocsf_product *pr;

	if (!ocsf_present_get(md->present, OCSF_METADATA_F_UID)) {
		char *uid = ocsf_arena_alloc(&ev->arena, 37);

		event_uid(uid);
		ocsf_metadata_set_uid(md, uid);
	}
	pr = ocsf_metadata_product(md);
	if (!ocsf_present_get(pr->present, OCSF_PRODUCT_F_NAME))
		ocsf_product_set_name(pr, c->product_name);
	if (!ocsf_present_get(pr->present, OCSF_PRODUCT_F_VENDOR_NAME))
		ocsf_product_set_vendor_name(pr, c->vendor);
	if (!ocsf_present_get(pr->present, OCSF_PRODUCT_F_VERSION) && c->version[0] != '\0')
		ocsf_product_set_version(pr, c->version);
}

/* device: host profile (hostname, required type_id, os) and, because the
 * container profile attaches `container` to endpoint-derived objects and to
 * process (no class of ours has a top-level `container`), device.container. */
static void enrich_device(struct ocsf_device *dev, const struct osh_ctx_snap *c)
{
	if (!ocsf_present_get(dev->present, OCSF_DEVICE_F_HOSTNAME) && c->hostname[0] != '\0')
		ocsf_device_set_hostname(dev, c->hostname);
	if (!ocsf_present_get(dev->present, OCSF_DEVICE_F_TYPE_ID))
		ocsf_device_set_type_id(dev, OCSF_TYPE_ID_SERVER);
	if (!ocsf_present_get(dev->present, OCSF_DEVICE_F_OS)) {
		struct ocsf_os *os = ocsf_device_os(dev);

		ocsf_os_set_name(os, "Linux");
		ocsf_os_set_type_id(os, OCSF_OS_TYPE_ID_LINUX);
	}
	if (!ocsf_present_get(dev->present, OCSF_DEVICE_F_CONTAINER) &&
	    (c->sandbox_id[0] != '\0' || c->sandbox_name[0] != '\0')) {
		struct ocsf_container *ct = ocsf_device_container(dev);

		if (c->sandbox_name[0] != '\0')
			ocsf_container_set_name(ct, c->sandbox_name);
		if (c->sandbox_id[0] != '\0')
			ocsf_container_set_uid(ct, c->sandbox_id);
		/* image.uid is required: without it the image is left out. */
		if (c->image_uid[0] != '\0') {
			struct ocsf_image *im = ocsf_container_image(ct);

			ocsf_image_set_uid(im, c->image_uid);
			if (c->image_name[0] != '\0')
				ocsf_image_set_name(im, c->image_name);
		}
	}
}

/* Classes whose traffic passes the supervisor's proxy: their events carry
 * proxy_endpoint (network_proxy profile) once osh_ctx_set_proxy() ran. */
static bool proxied(const struct ocsf_class *cls)
{
	return cls == &ocsf_network_activity_class || cls == &ocsf_http_activity_class;
}

/* Fills context attributes the site does not set, for any class: the
 * generated shared-attribute row `sh` of the event's class (ocsf_shared.h)
 * says where metadata, device and proxy_endpoint live; a class without one
 * of them is left alone. Returns 0. */
static int enrich(struct ocsf_event *ev, const struct ocsf_shared *sh)
{
	const struct osh_ctx_snap *c = osh_ctx_current();

	if (sh->metadata.idx >= 0)
		enrich_metadata(ev, ocsf_shared_object_get(ev, sh->metadata, &ocsf_metadata_desc),
				c);
	if (sh->device.idx >= 0)
		enrich_device(ocsf_shared_object_get(ev, sh->device, &ocsf_device_desc), c);
	if (c->proxy_port != 0 && sh->proxy_endpoint.idx >= 0 && proxied(ev->cls) &&
	    !ocsf_shared_present(ev, sh, sh->proxy_endpoint)) {
		struct ocsf_network_proxy *px =
		    ocsf_shared_object_get(ev, sh->proxy_endpoint, &ocsf_network_proxy_desc);

		if (c->proxy_ip[0] != '\0')
			ocsf_network_proxy_set_ip(px, c->proxy_ip);
		ocsf_network_proxy_set_port(px, c->proxy_port);
	}
	return 0;
}

static int event_severity(const struct ocsf_event *ev)
{
	const struct ocsf_field *f;
	int32_t sev = 0;

	if (ev->cls->severity_field >= 0) {
		f = &ev->cls->object->fields[ev->cls->severity_field];
		memcpy(&sev, (const char *)ev + f->offset, sizeof(sev));
	}
	return sev;
}

/* ------------------------------------------------------------- producer */

/* Record layout of the main queue (the writer writes straight from it):
 *   a: "<24-byte timestamp slot> OCSF <shorthand>\n" (events) or
 *      "<slot> <LEVEL> <module>: <message>\n" (plain lines); the writer
 *      fills the slot in place, so producers never format a timestamp;
 *   c: "<json>\n" (events with OSH_REC_F_JSON).
 * Pieces of an event record, in order: */
enum { EP_SLOT, EP_TAG, EP_SHORT, EP_NL, EP_JSON, EP_JNL, EP_N };
#define TS_SLOT 24

static void json_gate(struct osh_emit_rec *h, struct osh_emit_piece *pieces, void *arg)
{
	(void)arg;
	if ((h->flags & OSH_REC_F_JSON) && !atomic_load(&rt.jsonl)) {
		h->flags &= (uint8_t)~OSH_REC_F_JSON;
		h->c_len = 0;
		pieces[EP_JSON].n = 0;
		pieces[EP_JNL].n = 0;
	}
}

/* After a record was committed (queue head `head`): wake the writer if it is
 * in its long sleep, or if it dozes and the queue has passed the watermark.
 * A dozing writer comes back on its own within DOZE_MS, so a steady trickle
 * of events costs producers no wake-up at all. */
static void nudge_writer(uint64_t head)
{
	int st = atomic_load(&rt.wstate);

	if (st == W_AWAKE)
		return;
	if (st == W_DOZE && head - osh_emit_ring_tail(&rt.q) < rt.watermark)
		return;
	if (atomic_exchange(&rt.wstate, W_AWAKE) != W_AWAKE) {
		int fd = atomic_load(&rt.efd);
		uint64_t one = 1;

		if (fd >= 0) {
			ssize_t w = write(fd, &one, sizeof(one));

			(void)w;
		}
		atomic_fetch_add_explicit(&rt.wakeups, 1, memory_order_relaxed);
	}
}

/* One push-feed record: target (a), message (b) and, for an event formatted
 * while JSONL was on, its OCSF JSON without newline (c; j_len 0 = none). */
static void push_put(int kind, int level, int64_t ts, const char *target, size_t t_len,
		     const char *msg, size_t m_len, const char *json, size_t j_len)
{
	struct osh_emit_rec h = {.kind = (uint8_t)kind, .level = (uint8_t)level, .ts_ms = ts};
	struct osh_emit_piece p[3];

	if (!rt.push_on || level < (int)rt.cfg.push_level)
		return;
	if (t_len > OSH_EMIT_TARGET_MAX - 1)
		t_len = OSH_EMIT_TARGET_MAX - 1;
	h.a_len = (uint32_t)t_len;
	h.b_len = (uint32_t)m_len;
	h.c_len = (uint32_t)j_len;
	p[0] = (struct osh_emit_piece){target, t_len};
	p[1] = (struct osh_emit_piece){msg, m_len};
	p[2] = (struct osh_emit_piece){json, j_len};
	if (osh_emit_ring_put(&rt.push, &h, p, 3, NULL, NULL, NULL) != 0)
		atomic_fetch_add(&rt.push_dropped, 1);
}

static bool enter(void)
{
	atomic_fetch_add(&rt.inflight, 1);
	if (atomic_load(&rt.running))
		return true;
	atomic_fetch_sub(&rt.inflight, 1);
	return false;
}

static void leave(void)
{
	atomic_fetch_sub(&rt.inflight, 1);
}

int osh_emit_event(struct ocsf_event *ev)
{
	struct osh_emit_rec h = {.kind = OSH_REC_EVENT};
	struct osh_emit_piece p[EP_N];
	struct ocsf_shared scratch;
	const struct ocsf_shared *sh = NULL;
	size_t slen = 0, jlen = 0;
	uint64_t head = 0;
	bool running, want_json;
	int rc, sev;

	if (ev == NULL || ev->cls == NULL || ev->cls->object == NULL) {
		rc = OSH_EINVAL;
		goto out_noenter;
	}
	running = enter();
	/* A failed build is refused before enrichment touches the arena (after
	 * an error the arena hands out one shared scratch object). */
	rc = ev->arena.err;
	if (rc == 0) {
		/* One lookup serves enrichment and the shorthand; a class not
		 * generated here is resolved by name into `scratch`. */
		sh = ocsf_shared_of(ev->cls, &scratch);
		rc = enrich(ev, sh);
	}
	if (rc == 0)
		rc = ev->arena.err;
	if (rc == 0)
		rc = osh_emit_shorthand_with(ev, sh, tl_short, sizeof(tl_short), &slen);
	if (rc != 0) {
		atomic_fetch_add(&rt.invalid, 1);
		goto out;
	}
	sev = event_severity(ev);
	h.severity = (uint8_t)(sev < 0 ? 0 : (sev > 255 ? 255 : sev));
	h.level = (uint8_t)osh_level_of_severity(sev);
	h.ts_ms = now_ms();
	if (!running) {
		size_t n = build_line(tl_line, sizeof(tl_line), OSH_REC_EVENT, 0, h.ts_ms, NULL, 0,
				      tl_short, slen);

		direct_stderr(STDERR_FILENO, tl_line, n);
		goto out_noenter;
	}
	want_json = atomic_load(&rt.jsonl);
	if (want_json) {
		rc = ocsf_serialize(ev, tl_json, sizeof(tl_json), &jlen);
		if (rc != 0) {
			/* The shorthand line still goes out; the missing JSON line is
			 * counted and reported (LOG_INVALID_EVENT). */
			atomic_fetch_add(&rt.invalid, 1);
			want_json = false;
			jlen = 0;
		}
	}
	h.flags = want_json ? OSH_REC_F_JSON : 0;
	h.a_len = (uint32_t)(TS_SLOT + 6 + slen + 1);
	h.c_len = want_json ? (uint32_t)(jlen + 1) : 0;
	p[EP_SLOT] = (struct osh_emit_piece){NULL, TS_SLOT};
	p[EP_TAG] = (struct osh_emit_piece){" OCSF ", 6};
	p[EP_SHORT] = (struct osh_emit_piece){tl_short, slen};
	p[EP_NL] = (struct osh_emit_piece){"\n", 1};
	p[EP_JSON] = (struct osh_emit_piece){tl_json, jlen};
	p[EP_JNL] = (struct osh_emit_piece){"\n", want_json ? 1 : 0};
	rc = osh_emit_ring_put(&rt.q, &h, p, EP_N, json_gate, NULL, &head);
	if (rc == 0) {
		atomic_fetch_add(&rt.emitted, 1);
		if (h.flags & OSH_REC_F_JSON)
			atomic_fetch_add(&rt.emitted_en, 1);
		nudge_writer(head);
	} else {
		atomic_fetch_add(&rt.dropped, 1);
		rc = OSH_EFULL;
	}
	push_put(OSH_REC_EVENT, h.level, h.ts_ms, "ocsf", 4, tl_short, slen, tl_json,
		 want_json ? jlen : 0);
out:
	if (running)
		leave();
out_noenter:
	return rc;
}

__attribute__((format(printf, 3, 0))) static void log_v(enum osh_level level, const char *module,
							const char *fmt, va_list ap)
{
	struct osh_emit_rec h = {.kind = OSH_REC_PLAIN};
	struct osh_emit_piece p[4];
	enum osh_level min;
	size_t mlen = 0, modlen, pre;
	uint64_t head = 0;
	int n;
	bool running = enter();

	if (running) {
		min = rt.cfg.file_level;
		if (rt.cfg.stderr_enabled && atomic_load(&rt.stderr_level) < (int)min)
			min = (enum osh_level)atomic_load(&rt.stderr_level);
		if (rt.push_on && rt.cfg.push_level < min)
			min = rt.cfg.push_level;
	} else {
		min = OSH_LEVEL_INFO;
	}
	if ((int)level < (int)min || (int)level > OSH_LEVEL_ERROR)
		goto out;
	if (module == NULL)
		module = "openshell";
	/* ap was started by osh_log(). */
	n = vsnprintf(tl_raw, sizeof(tl_raw), fmt,
		      ap); /* NOLINT(clang-analyzer-valist.Uninitialized) */
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(tl_raw))
		n = (int)sizeof(tl_raw) - 1;
	osh_emit_escape(tl_short, sizeof(tl_short), &mlen, tl_raw, (size_t)n, OSH_EMIT_LINE_MAX,
			NULL);
	/* The module name is escaped too (one word: spaces and ':' as well). */
	modlen = 0;
	osh_emit_escape(tl_mod, sizeof(tl_mod), &modlen, module, cap_len(module, 256),
			OSH_EMIT_TARGET_MAX - 1, " :");
	module = tl_mod;
	h.level = (uint8_t)level;
	h.ts_ms = now_ms();
	if (!running) {
		size_t ln = build_line(tl_line, sizeof(tl_line), OSH_REC_PLAIN, level, h.ts_ms,
				       module, modlen, tl_short, mlen);

		direct_stderr(STDERR_FILENO, tl_line, ln);
		goto out;
	}
	/* "<slot> <LEVEL> <module>: " in tl_line, then the message and '\n'. */
	pre = 0;
	tl_line[pre++] = ' ';
	for (const char *t = osh_level_name(level); *t != '\0'; t++)
		tl_line[pre++] = *t;
	tl_line[pre++] = ' ';
	memcpy(tl_line + pre, module, modlen);
	pre += modlen;
	tl_line[pre++] = ':';
	tl_line[pre++] = ' ';
	h.a_len = (uint32_t)(TS_SLOT + pre + mlen + 1);
	p[0] = (struct osh_emit_piece){NULL, TS_SLOT};
	p[1] = (struct osh_emit_piece){tl_line, pre};
	p[2] = (struct osh_emit_piece){tl_short, mlen};
	p[3] = (struct osh_emit_piece){"\n", 1};
	if (osh_emit_ring_put(&rt.q, &h, p, 4, NULL, NULL, &head) == 0) {
		atomic_fetch_add(&rt.plain, 1);
		nudge_writer(head);
	} else {
		atomic_fetch_add(&rt.dropped, 1);
	}
	push_put(OSH_REC_PLAIN, level, h.ts_ms, module, modlen, tl_short, mlen, NULL, 0);
out:
	if (running)
		leave();
}

void osh_log(enum osh_level level, const char *module, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_v(level, module, fmt, ap);
	va_end(ap);
}

void osh_emit_set_jsonl(bool on)
{
	/* Under the ring lock: the commit-time decision of every producer is
	 * ordered against this store (see DESIGN). */
	if (atomic_load(&rt.running)) {
		pthread_mutex_lock(&rt.q.mu);
		atomic_store(&rt.jsonl, on);
		pthread_mutex_unlock(&rt.q.mu);
		wake_writer();
	} else {
		atomic_store(&rt.jsonl, on);
	}
}

bool osh_emit_jsonl_enabled(void)
{
	return atomic_load(&rt.jsonl);
}

void osh_emit_set_jsonl_version(enum ocsf_version v)
{
	if ((unsigned)v < OCSF_VERSION_COUNT)
		atomic_store(&rt.jsonl_version, (int)v);
}

enum ocsf_version osh_emit_jsonl_version(void)
{
	return (enum ocsf_version)atomic_load(&rt.jsonl_version);
}

void osh_emit_set_stderr_level(enum osh_level level)
{
	atomic_store(&rt.stderr_level, (int)level);
}

void osh_emit_request_reopen(void)
{
	int fd = atomic_load(&rt.efd);

	atomic_store(&rt.reopen_req, 1);
	if (fd >= 0) {
		uint64_t one = 1;
		ssize_t w = write(fd, &one, sizeof(one));

		(void)w;
	}
}

void osh_emit_test_stall_writer(bool on)
{
	if (!enter())
		return;
	pthread_mutex_lock(&rt.prog_mu);
	atomic_store(&rt.stall, on);
	pthread_cond_broadcast(&rt.prog_cv);
	pthread_mutex_unlock(&rt.prog_mu);
	leave();
}

void osh_emit_stats_get(struct osh_emit_stats *out)
{
	memset(out, 0, sizeof(*out));
	out->emitted = atomic_load(&rt.emitted);
	out->emitted_while_enabled = atomic_load(&rt.emitted_en);
	out->plain = atomic_load(&rt.plain);
	out->dropped = atomic_load(&rt.dropped);
	out->invalid = atomic_load(&rt.invalid);
	out->write_errors = atomic_load(&rt.write_errors);
	out->reports = atomic_load(&rt.reports);
	out->reports_jsonl = atomic_load(&rt.reports_jsonl);
	out->convert_refused = atomic_load(&rt.convert_refused);
	out->push_dropped = atomic_load(&rt.push_dropped);
	out->rotations = atomic_load(&rt.rotations);
	out->reopens = atomic_load(&rt.reopens);
	out->wakeups = atomic_load(&rt.wakeups);
	out->fallback = atomic_load(&rt.fallback_flag);
	out->jsonl_open = atomic_load(&rt.jsonl_open_flag);
}

size_t osh_emit_push_drain(struct osh_push_line *out, size_t max)
{
	size_t n = 0;

	if (!enter())
		return 0;
	if (!rt.push_on)
		goto out;
	pthread_mutex_lock(&rt.push_drain_mu);
	while (n < max) {
		const struct osh_emit_rec *rec = osh_emit_ring_peek(&rt.push);
		struct osh_push_line *l = &out[n];
		const char *lv;
		size_t tl, ml;

		if (rec == NULL)
			break;
		l->timestamp_ms = rec->ts_ms;
		lv = rec->kind == OSH_REC_EVENT ? OSH_LEVEL_OCSF_LABEL
						: osh_level_name((enum osh_level)rec->level);
		snprintf(l->level, sizeof(l->level), "%s", lv);
		tl = rec->a_len < sizeof(l->target) - 1 ? rec->a_len : sizeof(l->target) - 1;
		memcpy(l->target, osh_emit_rec_a(rec), tl);
		l->target[tl] = '\0';
		ml = rec->b_len < sizeof(l->message) - 1 ? rec->b_len : sizeof(l->message) - 1;
		memcpy(l->message, osh_emit_rec_b(rec), ml);
		l->message[ml] = '\0';
		l->json = NULL;
		l->json_len = 0;
		if (rec->c_len > 0) {
			/* Heap: events run to OSH_EMIT_JSON_MAX, the feed's lines
			 * are few. An allocation failure loses the JSON only (the
			 * line still goes out with its shorthand), counted. */
			l->json = malloc((size_t)rec->c_len + 1);
			if (l->json) {
				memcpy(l->json, osh_emit_rec_c(rec), rec->c_len);
				l->json[rec->c_len] = '\0';
				l->json_len = rec->c_len;
			} else {
				atomic_fetch_add(&rt.push_dropped, 1);
			}
		}
		osh_emit_ring_release(&rt.push, rec);
		n++;
	}
	pthread_mutex_unlock(&rt.push_drain_mu);
out:
	leave();
	return n;
}

/* --------------------------------------------------------------- writer */

static void err_flush(void)
{
	if (rt.errused > 0)
		direct_stderr(rt.cfg.stderr_fd, (const char *)rt.errbuf, rt.errused);
	rt.errused = 0;
}

static void err_append(const char *s, size_t n)
{
	if (rt.errused + n > sizeof(rt.errbuf))
		err_flush();
	if (n > sizeof(rt.errbuf)) {
		direct_stderr(rt.cfg.stderr_fd, s, n);
		return;
	}
	memcpy(rt.errbuf + rt.errused, s, n);
	rt.errused += n;
}

static void update_flags(void)
{
	atomic_store(&rt.fallback_flag, rt.fallback);
	atomic_store(&rt.jsonl_open_flag, rt.json.fd >= 0);
	atomic_store(&rt.rotations, rt.main.rotations + rt.json.rotations);
	atomic_store(&rt.write_errors, rt.main.lost + rt.json.lost);
}

static void json_open(int64_t ts)
{
	if (rt.json.fd < 0 && !rt.json_open_failed && osh_sink_open(&rt.json, ts) != 0)
		rt.json_open_failed = true;
}

/* The JSON line json[0..j_len) (ending in '\n') converted to `ver` and
 * appended (copied), or counted as refused with its reason. */
static bool write_converted(const char *json, size_t j_len, enum ocsf_version ver, int64_t ts)
{
	char *out = NULL;
	size_t out_len = 0;
	char reason[sizeof(rt.convert_reason)];
	bool ok = false;

	if (ocsf_convert_json(json, j_len > 0 ? j_len - 1 : 0, ver, &out, &out_len, reason,
			      sizeof(reason)) == 0) {
		out[out_len] = '\n'; /* the NUL's byte */
		ok = osh_sink_append(&rt.json, out, out_len + 1, ts) == 0;
	} else {
		memcpy(rt.convert_reason, reason, sizeof(reason));
		rt.convert_version = (int)ver;
		atomic_fetch_add(&rt.convert_refused, 1);
	}
	free(out);
	return ok;
}

/* Writes one line of kind/level to every sink it belongs to. `json` may be
 * NULL. Returns true when a JSON line was appended. */
/* Writer's timestamp text, cached: lines of one batch mostly share the same
 * second (patch the milliseconds) or even the same millisecond. */
static const char *writer_ts(int64_t ts)
{
	static char cached[25];
	static int64_t cached_ms = INT64_MIN;

	if (ts != cached_ms) {
		int64_t ms = ts % 1000;

		if (cached_ms != INT64_MIN && ts / 1000 == cached_ms / 1000 && ts >= 0 &&
		    cached_ms >= 0) {
			cached[20] = (char)('0' + ms / 100);
			cached[21] = (char)('0' + ms / 10 % 10);
			cached[22] = (char)('0' + ms % 10);
		} else {
			osh_emit_format_ts(ts, cached);
		}
		cached_ms = ts;
	}
	return cached;
}

/* Writes one line of kind/level to every sink it belongs to. `line` is the
 * whole line, starting with a TS_SLOT-byte slot this fills with the
 * timestamp and ending in '\n'; `json` (may be NULL) is the JSON line with
 * its '\n'. By reference (queue records, released only after the sinks are
 * flushed) or copied (the writer's own lines). Returns true when a JSON
 * line was appended. */
static bool write_record(int kind, int level, int64_t ts, char *line, size_t len, const char *json,
			 size_t j_len, bool by_ref)
{
	bool to_file = kind == OSH_REC_EVENT || level >= (int)rt.cfg.file_level;
	bool to_err = rt.cfg.stderr_enabled && !(rt.fallback && to_file) &&
		      level >= atomic_load(&rt.stderr_level);
	bool json_ok = false;

	memcpy(line, writer_ts(ts), TS_SLOT);
	if (to_file) {
		if (rt.fallback)
			err_append(line, len);
		else if (by_ref)
			(void)osh_sink_append_ref(&rt.main, line, len, ts);
		else
			(void)osh_sink_append(&rt.main, line, len, ts);
	}
	if (to_err)
		err_append(line, len);
	if (json != NULL) {
		int ver = atomic_load(&rt.jsonl_version);

		json_open(ts);
		if (ver != OCSF_VERSION_1_7_0)
			json_ok = write_converted(json, j_len, (enum ocsf_version)ver, ts);
		else
			json_ok = (by_ref ? osh_sink_append_ref(&rt.json, json, j_len, ts)
					  : osh_sink_append(&rt.json, json, j_len, ts)) == 0;
	}
	return json_ok;
}

/* Enriches, formats and writes an event built by the writer itself (loss
 * reports, fallback notices); it never goes through the queue so it cannot
 * be dropped. Also feeds the push queue. */
static void writer_event(struct ocsf_event *ev)
{
	size_t slen = 0, jlen = 0, n;
	int64_t ts = now_ms();
	int sev, level;
	bool with_json = atomic_load(&rt.jsonl) || rt.json.fd >= 0;
	const struct ocsf_shared *sh = ocsf_shared_find(ev->cls);

	/* Only the runtime's own (generated) classes come here. */
	if (sh == NULL || ev->arena.err != 0 || enrich(ev, sh) != 0 || ev->arena.err != 0 ||
	    osh_emit_shorthand_with(ev, sh, rt.wshort, sizeof(rt.wshort), &slen) != 0)
		return;
	if (with_json && atomic_load(&rt.jsonl)) {
		if (ocsf_serialize(ev, rt.wjson, OSH_EMIT_JSON_MAX, &jlen) != 0)
			jlen = 0;
	} else {
		with_json = false;
	}
	sev = event_severity(ev);
	level = (int)osh_level_of_severity(sev);
	atomic_fetch_add(&rt.reports, 1);
	n = TS_SLOT;
	memcpy(rt.wline + n, " OCSF ", 6);
	n += 6;
	memcpy(rt.wline + n, rt.wshort, slen);
	n += slen;
	rt.wline[n++] = '\n';
	if (jlen > 0)
		rt.wjson[jlen++] = '\n';
	if (write_record(OSH_REC_EVENT, level, ts, rt.wline, n,
			 with_json && jlen > 0 ? rt.wjson : NULL, jlen, false))
		atomic_fetch_add(&rt.reports_jsonl, 1);
	/* jlen counts the '\n' appended for the file; the feed takes the object. */
	push_put(OSH_REC_EVENT, level, ts, "ocsf", 4, rt.wshort, slen, rt.wjson,
		 with_json && jlen > 0 ? jlen - 1 : 0);
}

/* LOG_CONVERT_REFUSED: `count` JSON lines not written since the last one. */
static void report_convert(uint64_t count)
{
	struct ocsf_base_event ev;
	const char *ver = ocsf_version_name((enum ocsf_version)rt.convert_version);

	osh_site_init_log_convert_refused(&ev);
	ocsf_base_event_set_activity_name(&ev, "Log Loss");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	ocsf_base_event_set_message(
	    &ev, ocsf_arena_printf(&ev.ev.arena,
				   "%llu JSONL lines not written: refused by the conversion to "
				   "OCSF %s (last: %s)",
				   (unsigned long long)count, ver, rt.convert_reason));
	ocsf_base_event_add_unmapped_int(&ev, "lost_records", (int64_t)count);
	ocsf_base_event_add_unmapped_str(&ev, "reason", "convert_refused");
	ocsf_base_event_add_unmapped_str(&ev, "ocsf_schema_version", ver);
	ocsf_base_event_add_unmapped_str(&ev, "last_reason", rt.convert_reason);
	writer_event(&ev.ev);
}

/* `init` is the loss site's generated init (LOG_DROPPED, ...). */
static void report_loss(void (*init)(struct ocsf_base_event *), const char *what,
			const char *reason, uint64_t count)
{
	struct ocsf_base_event ev;
	const char *msg;

	init(&ev);
	ocsf_base_event_set_activity_name(&ev, "Log Loss");
	ocsf_base_event_set_status_id(&ev, OCSF_STATUS_ID_FAILURE);
	msg = ocsf_arena_printf(&ev.ev.arena, "%llu log records lost: %s",
				(unsigned long long)count, what);
	ocsf_base_event_set_message(&ev, msg);
	ocsf_base_event_add_unmapped_int(&ev, "lost_records", (int64_t)count);
	ocsf_base_event_add_unmapped_str(&ev, "reason", reason);
	writer_event(&ev.ev);
}

static void lifecycle_notice(bool failed, const char *msg)
{
	struct ocsf_application_lifecycle ev;
	const struct osh_ctx_snap *c = osh_ctx_current();
	struct ocsf_product *app;

	if (failed)
		osh_site_init_log_file_fallback(&ev);
	else
		osh_site_init_log_file_restored(&ev);
	ocsf_application_lifecycle_set_status_id(&ev, failed ? OCSF_STATUS_ID_FAILURE
							     : OCSF_STATUS_ID_SUCCESS);
	app = ocsf_application_lifecycle_app(&ev);
	ocsf_product_set_name(app, ocsf_arena_printf(&ev.ev.arena, "%s log file", c->product_name));
	ocsf_product_set_vendor_name(app, c->vendor);
	if (c->version[0] != '\0')
		ocsf_product_set_version(app, c->version);
	ocsf_application_lifecycle_set_message(&ev, msg);
	writer_event(&ev.ev);
}

static void open_main(int64_t ts, bool announce_restore)
{
	char msg[4200];

	if (osh_sink_open(&rt.main, ts) == 0) {
		if (rt.fallback && announce_restore) {
			rt.fallback = false;
			snprintf(msg, sizeof(msg),
				 "log file %s is writable again; leaving stderr fallback",
				 rt.main.path);
			lifecycle_notice(false, msg);
		}
		rt.fallback = false;
		return;
	}
	if (!rt.fallback) {
		rt.fallback = true;
		snprintf(msg, sizeof(msg),
			 "cannot open log file %s (%s); writing its lines to stderr", rt.main.path,
			 strerror(rt.main.last_errno));
		lifecycle_notice(true, msg);
	}
}

static void reopen_all(int64_t ts)
{
	bool json_was_open = rt.json.fd >= 0;

	osh_sink_close(&rt.main);
	osh_sink_close(&rt.json);
	open_main(ts, true);
	if (json_was_open || atomic_load(&rt.jsonl))
		json_open(ts);
	atomic_fetch_add(&rt.reopens, 1);
}

static void maybe_report(bool force)
{
	int64_t now = now_ms();
	uint64_t d, inv, lost, pd, cr;
	bool cr_due;

	cr = atomic_load(&rt.convert_refused) - rt.rep_convert_refused;
	cr_due = cr > 0 && (force || rt.last_convert_report_ms == 0 ||
			    now - rt.last_convert_report_ms >= CONVERT_REPORT_MS);
	if (cr_due) {
		rt.last_convert_report_ms = now != 0 ? now : 1;
		rt.rep_convert_refused += cr;
		report_convert(cr);
	}
	if (!force && now - rt.last_report_ms < REPORT_INTERVAL_MS)
		return;
	/* Account for the lines still buffered first, so a failed report below
	 * only ever concerns its own line. */
	(void)osh_sink_flush(&rt.main);
	(void)osh_sink_flush(&rt.json);
	d = atomic_load(&rt.dropped) - rt.rep_dropped;
	inv = atomic_load(&rt.invalid) - rt.rep_invalid;
	pd = atomic_load(&rt.push_dropped) - rt.rep_push_dropped;
	lost = rt.main.lost + rt.json.lost - rt.rep_lost;
	if (d == 0 && inv == 0 && lost == 0 && pd == 0)
		return;
	rt.last_report_ms = now;
	if (d > 0) {
		report_loss(osh_site_init_log_dropped, "log queue full", "queue_full", d);
		rt.rep_dropped += d;
	}
	if (inv > 0) {
		report_loss(osh_site_init_log_invalid_event,
			    "event could not be built or serialized", "invalid_event", inv);
		rt.rep_invalid += inv;
	}
	if (pd > 0) {
		report_loss(osh_site_init_log_push_dropped, "push feed full", "push_full", pd);
		rt.rep_push_dropped += pd;
	}
	if (lost > 0) {
		/* Only counts as reported once the report itself reached the
		 * file; a report line that fails is not counted as a loss. */
		uint64_t main_before = rt.main.lost, json_before = rt.json.lost;

		report_loss(osh_site_init_log_write_failed, "log file write failed", "write_failed",
			    lost);
		(void)osh_sink_flush(&rt.main);
		(void)osh_sink_flush(&rt.json);
		/* The report's own JSON line is never counted as a loss; the
		 * report is delivered once its shorthand line reached the file
		 * (or stderr in fallback). */
		rt.json.lost = json_before;
		if (rt.main.lost == main_before && (rt.main.fd >= 0 || rt.fallback)) {
			rt.rep_lost += lost;
		} else {
			rt.main.lost = main_before;
			atomic_fetch_sub(&rt.reports, 1);
		}
	}
}

/* Writes every queued record straight from the queue (by reference), in
 * batches: a batch's queue space is given back only once both sinks have
 * written its lines. Returns the number of records written. */
static size_t drain(void)
{
	size_t total = 0, n;

	do {
		uint64_t pos = osh_emit_ring_tail(&rt.q);
		struct osh_emit_rec *rec;

		n = 0;
		while (n < DRAIN_BATCH && (rec = osh_emit_ring_next(&rt.q, &pos)) != NULL) {
			char *line = (char *)(rec + 1);
			bool has_json = rec->kind == OSH_REC_EVENT && (rec->flags & OSH_REC_F_JSON);

			(void)write_record(rec->kind, rec->level, rec->ts_ms, line, rec->a_len,
					   has_json ? line + rec->a_len + rec->b_len : NULL,
					   rec->c_len, true);
			n++;
		}
		(void)osh_sink_flush(&rt.main);
		(void)osh_sink_flush(&rt.json);
		osh_emit_ring_release_to(&rt.q, pos);
		total += n;
	} while (n == DRAIN_BATCH);
	return total;
}

/* A request that must not wait for the end of a doze (flush, reopen,
 * toggle, shutdown), or a queue past the watermark. */
static bool urgent_pending(uint64_t seen_flush)
{
	return atomic_load(&rt.reopen_req) != 0 || atomic_load(&rt.flush_req) != seen_flush ||
	       atomic_load(&rt.stop) || atomic_load(&rt.jsonl) != rt.json_applied ||
	       atomic_load(&rt.q.pub_head) - atomic_load(&rt.q.tail) >= rt.watermark;
}

static bool work_pending(uint64_t seen_flush)
{
	return atomic_load(&rt.q.pub_head) != atomic_load(&rt.q.tail) || urgent_pending(seen_flush);
}

/* Waits up to `ms` for a wake-up on the eventfd and consumes it. */
static void wait_efd(int efd, int ms)
{
	struct pollfd pfd = {.fd = efd, .events = POLLIN};
	uint64_t v;

	if (poll(&pfd, 1, ms) > 0) {
		ssize_t r = read(efd, &v, sizeof(v));

		(void)r;
	}
}

static void *writer_main(void *arg)
{
	int efd = atomic_load(&rt.efd);
	unsigned idle = 0;
	size_t wrote;

	(void)arg;
	open_main(now_ms(), false);
	if (atomic_load(&rt.jsonl))
		json_open(now_ms());
	for (;;) {
		uint64_t seen = atomic_load(&rt.flush_req);
		bool stopping = atomic_load(&rt.stop);
		bool want_json;

		if (atomic_load(&rt.stall) && !stopping) {
			pthread_mutex_lock(&rt.prog_mu);
			while (atomic_load(&rt.stall) && !atomic_load(&rt.stop))
				pthread_cond_wait(&rt.prog_cv, &rt.prog_mu);
			pthread_mutex_unlock(&rt.prog_mu);
			continue;
		}
		rt.json_open_failed = false;
		if (atomic_exchange(&rt.reopen_req, 0) != 0)
			reopen_all(now_ms());
		want_json = atomic_load(&rt.jsonl);
		rt.json_applied = want_json;
		if (want_json)
			json_open(now_ms());
		wrote = drain();
		if (!want_json && rt.json.fd >= 0)
			osh_sink_close(&rt.json);
		maybe_report(stopping || seen != rt.flush_done);
		(void)osh_sink_flush(&rt.main);
		(void)osh_sink_flush(&rt.json);
		err_flush();
		update_flags();
		if (seen != rt.flush_done) {
			pthread_mutex_lock(&rt.prog_mu);
			rt.flush_done = seen;
			pthread_cond_broadcast(&rt.prog_cv);
			pthread_mutex_unlock(&rt.prog_mu);
		}
		if (stopping && atomic_load(&rt.q.pub_head) == atomic_load(&rt.q.tail))
			break;
		if (urgent_pending(seen))
			continue;
		idle = wrote > 0 ? 0 : idle + 1;
		if (idle < IDLE_DOZES) {
			/* Doze: producers leave a dozing writer alone (below the
			 * watermark); a forced wake still cuts the doze short. */
			atomic_store(&rt.wstate, W_DOZE);
			wait_efd(efd, DOZE_MS);
		} else {
			/* Long sleep: announce it, then re-check, so a producer that
			 * committed before seeing W_SLEEP is not missed. */
			atomic_store(&rt.wstate, W_SLEEP);
			if (!work_pending(seen))
				wait_efd(efd, IDLE_POLL_MS);
		}
		atomic_store(&rt.wstate, W_AWAKE);
	}
	osh_sink_close(&rt.main);
	osh_sink_close(&rt.json);
	err_flush();
	update_flags();
	return NULL;
}

/* ------------------------------------------------------------ lifecycle */

void osh_emit_config_default(struct osh_emit_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->log_dir = DEFAULT_LOG_DIR;
	cfg->jsonl = false;
	cfg->stderr_enabled = true;
	cfg->stderr_level = OSH_LEVEL_WARN;
	cfg->stderr_fd = STDERR_FILENO;
	cfg->file_level = OSH_LEVEL_INFO;
	cfg->queue_bytes = (size_t)8 << 20;
	cfg->rotate_bytes = (uint64_t)64 << 20;
	cfg->rotate_daily = true;
	cfg->keep = 5;
	cfg->push_bytes = 0;
	cfg->push_level = OSH_LEVEL_INFO;
	cfg->clock_ms = NULL;
	cfg->clock_arg = NULL;
}

int osh_emit_init(const struct osh_emit_config *cfg)
{
	const char *dir;
	int rc = 0, efd = -1;
	bool q_ok = false, p_ok = false;

	if (cfg == NULL || cfg->stderr_fd < 0 || cfg->keep > 1000 ||
	    (int)cfg->file_level < OSH_LEVEL_TRACE || (int)cfg->file_level > OSH_LEVEL_ERROR) {
		rc = OSH_EINVAL;
		goto out;
	}
	if (atomic_load(&rt.running) || atomic_load(&rt.efd) >= 0) {
		rc = OSH_ESTATE;
		goto out;
	}
	dir = cfg->log_dir != NULL && cfg->log_dir[0] != '\0' ? cfg->log_dir : DEFAULT_LOG_DIR;
	if (strlen(dir) >= sizeof(rt.log_dir) - 1) {
		rc = OSH_ETOOBIG;
		goto out;
	}
	rt.cfg = *cfg;
	memcpy(rt.log_dir, dir, strlen(dir) + 1);
	rt.cfg.log_dir = rt.log_dir;
	if (cfg->file_stem != NULL) {
		/* "<stem>.log" and its twin "<stem>-ocsf.log" (the gateway's own). */
		char mb[96], jb[96];
		int nm = snprintf(mb, sizeof(mb), "%s.log", cfg->file_stem);
		int nj = snprintf(jb, sizeof(jb), "%s-ocsf.log", cfg->file_stem);

		if (cfg->file_stem[0] == '\0' || strchr(cfg->file_stem, '/') != NULL || nm < 0 ||
		    nj < 0 || (size_t)nj >= sizeof(jb)) {
			rc = OSH_EINVAL;
			goto out;
		}
		rc = osh_sink_init(&rt.main, rt.log_dir, mb, cfg->rotate_bytes, cfg->rotate_daily,
				   cfg->keep);
		if (rc == 0)
			rc = osh_sink_init(&rt.json, rt.log_dir, jb, cfg->rotate_bytes,
					   cfg->rotate_daily, cfg->keep);
	} else {
		rc = osh_sink_init(&rt.main, rt.log_dir, MAIN_BASE, cfg->rotate_bytes,
				   cfg->rotate_daily, cfg->keep);
		if (rc == 0)
			rc = osh_sink_init(&rt.json, rt.log_dir, JSONL_BASE, cfg->rotate_bytes,
					   cfg->rotate_daily, cfg->keep);
	}
	if (rc != 0)
		goto out;
	rc = osh_emit_ring_init(&rt.q, cfg->queue_bytes);
	if (rc != 0)
		goto out;
	q_ok = true;
	rt.push_on = cfg->push_bytes > 0;
	if (rt.push_on) {
		rc = osh_emit_ring_init(&rt.push, cfg->push_bytes);
		if (rc != 0)
			goto out;
		p_ok = true;
	}
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0) {
		rc = OSH_ESYS;
		goto out;
	}
	pthread_mutex_init(&rt.prog_mu, NULL);
	pthread_cond_init(&rt.prog_cv, NULL);
	pthread_mutex_init(&rt.push_drain_mu, NULL);
	rt.fallback = false;
	rt.json_applied = false;
	rt.json_open_failed = false;
	rt.errused = 0;
	rt.rep_dropped = rt.rep_invalid = rt.rep_lost = rt.rep_push_dropped = 0;
	rt.rep_convert_refused = 0;
	rt.last_convert_report_ms = 0;
	atomic_store(&rt.convert_refused, 0);
	rt.last_report_ms = 0;
	rt.flush_done = 0;
	atomic_store(&rt.flush_req, 0);
	atomic_store(&rt.stop, false);
	atomic_store(&rt.stall, false);
	atomic_store(&rt.reopen_req, 0);
	atomic_store(&rt.wstate, W_AWAKE);
	rt.watermark = rt.q.cap / 4;
	atomic_store(&rt.jsonl, cfg->jsonl);
	atomic_store(&rt.stderr_level, (int)cfg->stderr_level);
	atomic_store(&rt.emitted, 0);
	atomic_store(&rt.emitted_en, 0);
	atomic_store(&rt.plain, 0);
	atomic_store(&rt.dropped, 0);
	atomic_store(&rt.invalid, 0);
	atomic_store(&rt.push_dropped, 0);
	atomic_store(&rt.reports, 0);
	atomic_store(&rt.reports_jsonl, 0);
	atomic_store(&rt.reopens, 0);
	atomic_store(&rt.wakeups, 0);
	atomic_store(&rt.efd, efd);
	if (pthread_create(&rt.writer, NULL, writer_main, NULL) != 0) {
		atomic_store(&rt.efd, -1);
		pthread_mutex_destroy(&rt.prog_mu);
		pthread_cond_destroy(&rt.prog_cv);
		pthread_mutex_destroy(&rt.push_drain_mu);
		rc = OSH_ESYS;
		goto out;
	}
	atomic_store(&rt.running, true);
out:
	if (rc != 0) {
		if (efd >= 0)
			close(efd);
		if (q_ok)
			osh_emit_ring_fini(&rt.q);
		if (p_ok)
			osh_emit_ring_fini(&rt.push);
		rt.push_on = false;
	}
	return rc;
}

int osh_emit_flush(int timeout_ms)
{
	struct timespec dl;
	uint64_t my;
	int rc = 0;

	if (!enter())
		return OSH_ESTATE;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&rt.prog_mu);
	my = atomic_fetch_add(&rt.flush_req, 1) + 1;
	pthread_mutex_unlock(&rt.prog_mu);
	wake_writer();
	pthread_mutex_lock(&rt.prog_mu);
	while (rt.flush_done < my && rc == 0) {
		if (pthread_cond_timedwait(&rt.prog_cv, &rt.prog_mu, &dl) == ETIMEDOUT &&
		    rt.flush_done < my)
			rc = OSH_ETIMEDOUT;
	}
	pthread_mutex_unlock(&rt.prog_mu);
	leave();
	return rc;
}

void osh_emit_shutdown(void)
{
	int efd;

	if (!atomic_exchange(&rt.running, false))
		return;
	while (atomic_load(&rt.inflight) > 0)
		sched_yield();
	pthread_mutex_lock(&rt.prog_mu);
	atomic_store(&rt.stop, true);
	atomic_store(&rt.stall, false);
	pthread_cond_broadcast(&rt.prog_cv);
	pthread_mutex_unlock(&rt.prog_mu);
	wake_writer();
	pthread_join(rt.writer, NULL);
	efd = atomic_exchange(&rt.efd, -1);
	if (efd >= 0)
		close(efd);
	osh_emit_ring_fini(&rt.q);
	if (rt.push_on)
		osh_emit_ring_fini(&rt.push);
	rt.push_on = false;
	pthread_mutex_destroy(&rt.prog_mu);
	pthread_cond_destroy(&rt.prog_cv);
	pthread_mutex_destroy(&rt.push_drain_mu);
}
