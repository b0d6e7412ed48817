/* net_subsys.c - supervisor/net as a supervisor subsystem (see sup_subsys.h).
 *
 * DESIGN
 * init: configuration from the supervisor's environment (OPENSHELL_NETNS,
 * OPENSHELL_NET_RANGE, OPENSHELL_NET_RUN_DIR), leftovers, slot, namespace
 * and veth pair; publishes host->net_host_ip / net_sandbox_ip for the proxy,
 * whose init runs next and sets host->proxy_port. Inactive (state NULL) when
 * there is no namespace (off, or unavailable in auto mode), so the command
 * then simply stays in the host namespace.
 * start: the ruleset with the proxy's port, the monitor, the child's proxy
 * environment; "network" joins the enforced set (sup_enforce.h) only when
 * the rules are in the kernel. child_setup: setns(). stop: "network" leaves
 * the enforced set first, then everything is torn down.
 * The glue keeps the host pointer: the host outlives every hook.
 */
#include "net_subsys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"
#include "osh_net.h"
#include "sup_enforce.h"

extern char **environ;

struct net_sub {
	struct osh_sup_host *host;
	struct osh_net *net;
	enum osh_net_mode mode;
};

static int net_init(struct osh_sup_host *host, void **state)
{
	struct osh_net_cfg cfg;
	struct net_sub *ns = NULL;
	char err[256] = "";
	int rc;

	*state = NULL;
	rc = osh_net_cfg_env(&cfg, environ, err, sizeof(err));
	if (rc) {
		net_ev_failed("configuration", err);
		goto out;
	}
	cfg.sandbox_id = host->sandbox_id;
	ns = calloc(1, sizeof(*ns));
	if (!ns) {
		rc = OSH_ENOMEM;
		goto out;
	}
	ns->host = host;
	ns->mode = cfg.mode;
	rc = osh_net_create(&cfg, &ns->net);
	if (rc == 0 && osh_net_active(ns->net)) {
		snprintf(host->net_host_ip, sizeof(host->net_host_ip), "%s",
			 osh_net_host_ip(ns->net));
		snprintf(host->net_sandbox_ip, sizeof(host->net_sandbox_ip), "%s",
			 osh_net_sandbox_ip(ns->net));
		*state = ns;
		ns = NULL;
	}
out:
	if (ns) {
		osh_net_destroy(ns->net);
		free(ns);
	}
	return rc;
}

static int net_start(void *state)
{
	struct net_sub *ns = state;
	uint16_t port = ns->host->proxy_port;
	char vars[8][160];
	int n, rc;

	rc = osh_net_install(ns->net, port);
	if (rc == 0 && osh_net_enforced())
		osh_sup_enforce_set("network", true);
	if (rc && ns->mode != OSH_NET_MODE_REQUIRE)
		rc = 0; /* reported (NET_RULES_FAILED), nothing claimed */
	n = osh_net_proxy_env(ns->net, port, vars, 8);
	for (int i = 0; i < n && rc == 0; i++) {
		char *eq = strchr(vars[i], '=');

		*eq = '\0';
		rc = osh_sup_host_setenv(ns->host, vars[i], eq + 1);
	}
	return rc;
}

static int net_child_setup(void *state, const char **step)
{
	return osh_net_child_setup(((struct net_sub *)state)->net, step);
}

static void net_on_child(void *state, pid_t pid)
{
	osh_net_on_child(((struct net_sub *)state)->net, pid);
}

static void net_stop(void *state)
{
	osh_sup_enforce_set("network", false);
	osh_net_stop(((struct net_sub *)state)->net);
}

static void net_fini(void *state)
{
	struct net_sub *ns = state;

	osh_net_destroy(ns->net);
	free(ns);
}

const struct osh_sup_subsys osh_sup_net_subsys = {
    .name = "net",
    .init = net_init,
    .start = net_start,
    .child_setup = net_child_setup,
    .on_child = net_on_child,
    .stop = net_stop,
    .fini = net_fini,
    .confines = true,
};
