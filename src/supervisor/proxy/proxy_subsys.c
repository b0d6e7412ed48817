/* proxy_subsys.c - the egress proxy as a supervisor subsystem (see
 * sup_subsys.h and osh_proxy.h).
 *
 * DESIGN
 *   init      bind on the host end of the sandbox's veth (host->net_host_ip,
 *             published by the net subsystem, which runs first) or on
 *             127.0.0.1 when there is no namespace; port 0 lets the kernel
 *             pick; publish the port (host->proxy_port, the emit context's
 *             proxy endpoint) and compile the store's current policy.
 *             Without a namespace nobody else points the command at the
 *             proxy, so the proxy sets HTTP(S)_PROXY itself (with a
 *             namespace the net subsystem does, in its start).
 *             L7: the sandbox's ephemeral CA is made here (osh_l7_tls.h;
 *             with --l7-upstream-ca the origins' trust store is that file),
 *             its bundle written into a fresh root-owned directory
 *             /tmp/openshell-tls.XXXXXX (mode 0755, files 0644: readable by
 *             the sandbox user, writable by root only; /tmp is in confine's
 *             baseline, so Landlock lets the command read it) and exported as
 *             SSL_CERT_FILE, CURL_CA_BUNDLE, REQUESTS_CA_BUNDLE and
 *             NODE_EXTRA_CA_CERTS. No CA, no start (L7_CA_FAILED): endpoints
 *             with REST rules could not be inspected.
 *   start     start the event loop and the workers.
 *   on_child  the command's PID roots the process-tree search of peer
 *             identity (and its network namespace is followed).
 *   on_policy compile the store's new generation; on failure the last good
 *             engine stays (PROXY_POLICY_REJECTED says so).
 *   stop/fini stop and free.
 * "l7" is marked enforced while the proxy runs in the namespace with a
 * policy that has REST endpoints (re-checked on every policy).
 * The "network" protection is marked enforced by the net subsystem once its
 * rules are in the kernel (the proxy alone enforces nothing: without the
 * namespace a command can simply not use it, and the policy events then say
 * "network" is not enforced).
 */
#include "proxy_subsys.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "osh_emit.h"
#include "osh_policy_store.h"
#include "l7_sites.h"
#include "osh_l7_tls.h"
#include "osh_proxy.h"
#include "sup_enforce.h"

struct proxy_state {
	struct osh_sup_host *host;
	struct osh_proxy *px;
	bool netns;
	struct osh_l7_tls *tls;
	char tls_dir[64];
};

/* "l7" is in force when the namespace forces traffic through the proxy and
 * the policy has endpoints the proxy inspects. */
static void mark_l7(struct proxy_state *s, bool running)
{
	osh_sup_enforce_set("l7", running && s->netns && s->tls && osh_proxy_has_l7(s->px));
}

/* Compiles the store's current snapshot if it is newer than the engine's. */
static void apply_current(struct proxy_state *s)
{
	const struct osh_policy_snap *snap = osh_policy_store_get(s->host->policy);
	char err[512];

	if (snap->generation > osh_proxy_generation(s->px) || snap->generation == 0) {
		if (osh_proxy_set_policy(s->px, snap->policy, snap->generation, err, sizeof(err)) !=
		    0)
			osh_log(OSH_LEVEL_WARN, "proxy", "policy generation %llu refused: %s",
				(unsigned long long)snap->generation, err);
	}
	mark_l7(s, true);
	osh_policy_snap_release(snap);
}

static int set_proxy_env(struct osh_sup_host *host, const char *ip, uint16_t port)
{
	static const char *const names[] = {"HTTP_PROXY", "HTTPS_PROXY", "http_proxy",
					    "https_proxy"};
	char url[96];
	int rc = 0;

	snprintf(url, sizeof(url), "http://%s:%u", ip, port);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && rc == 0; i++)
		rc = osh_sup_host_setenv(host, names[i], url);
	if (rc == 0)
		rc = osh_sup_host_setenv(host, "NO_PROXY", "localhost,127.0.0.1,::1");
	if (rc == 0)
		rc = osh_sup_host_setenv(host, "no_proxy", "localhost,127.0.0.1,::1");
	return rc;
}

static void tls_dir_remove(struct proxy_state *s)
{
	char p[128];

	if (!s->tls_dir[0])
		return;
	snprintf(p, sizeof(p), "%s/ca-bundle.pem", s->tls_dir);
	unlink(p);
	snprintf(p, sizeof(p), "%s/openshell-ca.pem", s->tls_dir);
	unlink(p);
	rmdir(s->tls_dir);
	s->tls_dir[0] = '\0';
}

/* The CA, its bundle for the child and the four variables pointing at it. */
static int l7_init(struct proxy_state *s, struct osh_sup_host *host)
{
	struct osh_l7_tls_config tc = {.upstream_ca_file = host->args->l7_ca};
	static const char *const vars[] = {"SSL_CERT_FILE", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
					   "NODE_EXTRA_CA_CERTS"};
	char err[512] = "", bundle[160];
	int rc = osh_l7_tls_create(&tc, &s->tls, err, sizeof(err));

	if (rc == 0) {
		snprintf(s->tls_dir, sizeof(s->tls_dir), "/tmp/openshell-tls.XXXXXX");
		if (!mkdtemp(s->tls_dir) || chmod(s->tls_dir, 0755) != 0) {
			snprintf(err, sizeof(err), "cannot create %s: %s", s->tls_dir,
				 strerror(errno));
			s->tls_dir[0] = '\0';
			rc = OSH_EIO;
		}
	}
	if (rc == 0)
		rc = osh_l7_tls_write_bundle(s->tls, s->tls_dir, bundle, sizeof(bundle), err,
					     sizeof(err));
	for (size_t i = 0; rc == 0 && i < sizeof(vars) / sizeof(vars[0]); i++)
		if ((rc = osh_sup_host_setenv(host, vars[i], bundle)) != 0)
			snprintf(err, sizeof(err), "environment: %s", osh_strerror(rc));
	if (rc == 0) {
		osh_l7_ev_ca(true, bundle, osh_l7_tls_ca_sha256(s->tls));
	} else {
		osh_l7_ev_ca(false, err, NULL);
		fprintf(stderr, "openshell-sandbox: proxy: sandbox CA: %s\n", err);
	}
	return rc;
}

static int proxy_init(struct osh_sup_host *host, void **state)
{
	struct proxy_state *s = calloc(1, sizeof(*s));
	struct osh_proxy_config cfg;
	char err[256];
	int rc;

	*state = NULL;
	if (!s)
		return OSH_ENOMEM;
	s->host = host;
	s->netns = host->net_host_ip[0] != '\0';
	osh_proxy_config_default(&cfg);
	cfg.bind_ip = s->netns ? host->net_host_ip : "127.0.0.1";
	cfg.secrets = &host->secrets; /* filled by the confine subsystem's init */
	rc = l7_init(s, host);
	if (rc != 0)
		goto fail;
	cfg.l7_tls = s->tls;
	rc = osh_proxy_create(&cfg, &s->px, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "openshell-sandbox: proxy: %s\n", err);
		goto fail;
	}
	host->proxy_port = osh_proxy_port(s->px);
	rc = osh_ctx_set_proxy(osh_proxy_ip(s->px), host->proxy_port);
	if (rc == 0 && !s->netns)
		rc = set_proxy_env(host, osh_proxy_ip(s->px), host->proxy_port);
	if (rc != 0)
		goto fail;
	apply_current(s);
	*state = s;
	return 0;
fail:
	osh_proxy_destroy(s->px);
	osh_l7_tls_destroy(s->tls);
	tls_dir_remove(s);
	free(s);
	return rc;
}

static int proxy_start(void *state)
{
	struct proxy_state *s = state;

	return osh_proxy_start(s->px);
}

static void proxy_on_child(void *state, pid_t pid)
{
	struct proxy_state *s = state;

	osh_proxy_set_root(s->px, pid);
}

static void proxy_on_policy(void *state, uint64_t generation)
{
	(void)generation; /* the store is re-read: it may be newer still */
	apply_current(state);
}

static void proxy_stop(void *state)
{
	struct proxy_state *s = state;

	mark_l7(s, false);
	osh_proxy_stop(s->px);
}

static void proxy_fini(void *state)
{
	struct proxy_state *s = state;

	osh_proxy_destroy(s->px);
	osh_l7_tls_destroy(s->tls);
	tls_dir_remove(s);
	free(s);
}

const struct osh_sup_subsys osh_sup_proxy_subsys = {
    .name = "proxy",
    .init = proxy_init,
    .start = proxy_start,
    .on_child = proxy_on_child,
    .on_policy = proxy_on_policy,
    .stop = proxy_stop,
    .fini = proxy_fini,
};
