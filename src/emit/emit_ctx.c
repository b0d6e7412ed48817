/* emit_ctx.c - the sandbox context every event is enriched from.
 *
 * DESIGN
 * Readers (every emitting thread) load one atomic pointer to an immutable
 * snapshot and borrow its strings; writers (start-up code, the proxy when it
 * binds) build a complete new snapshot off to the side and publish it with
 * one release store (copy-on-write, no seqlock retry loop on the hot path).
 * Replaced snapshots are kept on a chain and freed only by osh_ctx_reset()
 * at shutdown, because an event being formatted may still borrow them; the
 * context changes a handful of times per process, so the chain stays short.
 * Until a setter runs, a static default snapshot is used whose hostname is
 * read once from the kernel.
 */
#include "emit_internal.h"
#include "osh_emit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OSH_VERSION_STRING
#define OSH_VERSION_STRING "0.1.0"
#endif

static struct osh_ctx_snap default_snap;
static pthread_once_t default_once = PTHREAD_ONCE_INIT;
static _Atomic(struct osh_ctx_snap *) current_snap;
static pthread_mutex_t set_mu = PTHREAD_MUTEX_INITIALIZER;

static void copy_str(char *dst, size_t cap, const char *src)
{
	size_t n = src == NULL ? 0 : strnlen(src, cap - 1);

	if (n > 0)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

static void default_init(void)
{
	char host[OSH_CTX_STR];

	memset(&default_snap, 0, sizeof(default_snap));
	if (gethostname(host, sizeof(host)) != 0)
		copy_str(host, sizeof(host), "openshell-sandbox");
	host[sizeof(host) - 1] = '\0';
	copy_str(default_snap.hostname, OSH_CTX_STR, host);
	copy_str(default_snap.product_name, OSH_CTX_STR, "OpenShell");
	copy_str(default_snap.vendor, OSH_CTX_STR, "OpenShell");
	copy_str(default_snap.version, OSH_CTX_STR, OSH_VERSION_STRING);
}

const struct osh_ctx_snap *osh_ctx_current(void)
{
	struct osh_ctx_snap *s = atomic_load_explicit(&current_snap, memory_order_acquire);

	if (s == NULL) {
		pthread_once(&default_once, default_init);
		s = &default_snap;
	}
	return s;
}

static bool too_long(const char *v, size_t cap)
{
	return v != NULL && strnlen(v, cap) >= cap;
}

/* Copy-modify-publish. `field_a..` are (dst offset, value) pairs applied to
 * the copy; a NULL dst ends the list. */
struct ctx_edit {
	size_t off;
	size_t cap;
	const char *val;
};

static int publish(const struct ctx_edit *edits, size_t n, const uint16_t *port)
{
	struct osh_ctx_snap *next = NULL;
	const struct osh_ctx_snap *cur;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		if (too_long(edits[i].val, edits[i].cap)) {
			rc = OSH_ETOOBIG;
			goto out;
		}
	}
	next = malloc(sizeof(*next));
	if (next == NULL) {
		rc = OSH_ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&set_mu);
	cur = osh_ctx_current();
	memcpy(next, cur, sizeof(*next));
	for (size_t i = 0; i < n; i++)
		copy_str((char *)next + edits[i].off, edits[i].cap, edits[i].val);
	if (port != NULL)
		next->proxy_port = *port;
	next->older = atomic_load_explicit(&current_snap, memory_order_relaxed);
	atomic_store_explicit(&current_snap, next, memory_order_release);
	pthread_mutex_unlock(&set_mu);
out:
	return rc;
}

#define EDIT(field, v)                                                                             \
	{                                                                                          \
		offsetof(struct osh_ctx_snap, field), sizeof(((struct osh_ctx_snap *)0)->field),   \
		    (v)                                                                            \
	}

int osh_ctx_set_sandbox(const char *id, const char *name)
{
	const struct ctx_edit e[] = {EDIT(sandbox_id, id), EDIT(sandbox_name, name)};

	return publish(e, 2, NULL);
}

int osh_ctx_set_image(const char *name, const char *uid)
{
	const struct ctx_edit e[] = {EDIT(image_name, name), EDIT(image_uid, uid)};

	return publish(e, 2, NULL);
}

int osh_ctx_set_hostname(const char *hostname)
{
	const struct ctx_edit e[] = {EDIT(hostname, hostname)};

	return publish(e, 1, NULL);
}

int osh_ctx_set_product(const char *name, const char *vendor, const char *version)
{
	const struct ctx_edit e[] = {EDIT(product_name, name), EDIT(vendor, vendor),
				     EDIT(version, version)};

	return publish(e, 3, NULL);
}

int osh_ctx_set_proxy(const char *ip, uint16_t port)
{
	const struct ctx_edit e[] = {EDIT(proxy_ip, ip)};

	return publish(e, 1, &port);
}

void osh_ctx_reset(void)
{
	struct osh_ctx_snap *s;

	pthread_mutex_lock(&set_mu);
	s = atomic_exchange_explicit(&current_snap, NULL, memory_order_acq_rel);
	while (s != NULL) {
		struct osh_ctx_snap *older = s->older;

		free(s);
		s = older;
	}
	pthread_mutex_unlock(&set_mu);
}
