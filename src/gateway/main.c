/* main.c - openshell-gateway: parse flags, install signal handlers, serve.
 * DESIGN: all logic lives in osh_gateway (gateway.h); this file only wires argv,
 * signals and the exit code. Exit codes: 0 clean shutdown, 1 runtime failure,
 * 2 bad flags or config (the message names the flag, env var or file:line:key). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "gateway.h"
#include "gwlog.h"

static struct osh_gw *g_gw;

static void on_stop(int sig)
{
	(void)sig;
	osh_gw_stop(g_gw);
}

static void on_hup(int sig)
{
	(void)sig;
	osh_gw_request_reload(g_gw);
}

static void set_log_level(void)
{
	const char *v = getenv("OPENSHELL_GATEWAY_LOG_LEVEL");

	if (!v || !v[0])
		return;
	if (strcasecmp(v, "debug") == 0)
		osh_gw_log_set_min(OSH_GW_LOG_DEBUG);
	else if (strcasecmp(v, "warn") == 0)
		osh_gw_log_set_min(OSH_GW_LOG_WARN);
	else if (strcasecmp(v, "error") == 0)
		osh_gw_log_set_min(OSH_GW_LOG_ERROR);
}

int main(int argc, char **argv)
{
	struct osh_gw_opts o;
	struct sigaction sa;
	char err[1024] = "";
	int rc;

	osh_gw_opts_init(&o);
	if (osh_gw_opts_parse(&o, argc, argv, err, sizeof(err)) != 0) {
		fprintf(stderr, "openshell-gateway: %s\n", err);
		return 2;
	}
	if (o.help) {
		osh_gw_usage(stdout, argv[0]);
		return 0;
	}
	if (o.version) {
		printf("openshell-gateway 0.1.0\n");
		return 0;
	}
	set_log_level();
	signal(SIGPIPE, SIG_IGN);
	rc = osh_gw_create(&g_gw, &o, err, sizeof(err));
	if (rc != 0) {
		fprintf(stderr, "openshell-gateway: %s\n", err);
		return rc == OSH_EPARSE || rc == OSH_ENOTFOUND ? 2 : 1;
	}
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sa.sa_handler = on_hup;
	sigaction(SIGHUP, &sa, NULL);
	rc = osh_gw_run(g_gw);
	osh_gw_log(OSH_GW_LOG_INFO, "shutting down");
	osh_gw_destroy(g_gw);
	g_gw = NULL;
	return rc == 0 ? 0 : 1;
}
