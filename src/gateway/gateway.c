/* gateway.c - openshell-gateway lifecycle: options, data dir, store, config,
 * gRPC server, readiness file, housekeeping tick, supervisor processes.
 *
 * DESIGN: the gRPC loop's tick hook (every TICK_MS on the loop thread) does all
 * periodic work, so nothing here needs its own thread or locks: it publishes the
 * address file once the loop runs, applies reload requests (SIGHUP flag, inotify
 * on the YAML file's directory), picks up shared config values other gateways
 * set (a generation polled every CFG_SYNC_MS), reaps supervisors with waitpid(WNOHANG), checks
 * adopted supervisors (started by an earlier gateway run) through /proc, and
 * escalates pending deletes from SIGTERM to SIGKILL after the grace period. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <grp.h>
#include <sys/resource.h>

#include "osh_parse.h"
#include "gw_auth.h"
#include "gw_internal.h"
#include "gw_sites.h"
#include "gwfile.h"
#include "gwlog.h"
#include "ocsf_convert.h"
#include "osh_emit.h"
#include "sandbox.pb-c.h"
#include "sandboxes.h"
#include "osh_time.h"

#define TICK_MS	       50
#define ADOPT_CHECK_MS 1000
/* How often the shared config values' generation is polled (one integer read
 * of the store): a value set through another gateway is served here at most
 * this long (plus a tick) later. */
#define CFG_SYNC_MS 100

/* ------------------------------------------------------------ options -- */

void osh_gw_opts_init(struct osh_gw_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->stop_grace_ms = OSH_GW_DEFAULT_GRACE_MS;
	osh_gw_layer_init(&o->flag);
}

static int parse_size(const char *flag, const char *v, size_t *out, char *err, size_t errlen)
{
	char *end = NULL;
	unsigned long long n;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (!v[0] || *end || errno || v[0] == '-' || n == 0 || n > 100000000ull) {
		snprintf(err, errlen, "flag %s: '%s' is not a positive integer (max 100000000)",
			 flag, v);
		return OSH_EPARSE;
	}
	*out = (size_t)n;
	return 0;
}

int osh_gw_opts_parse(struct osh_gw_opts *o, int argc, char **argv, char *err, size_t errlen)
{
	int rc = 0;

	for (int i = 1; rc == 0 && i < argc; i++) {
		const char *a = argv[i], *v = NULL, *eq;
		char name[64], host[256];
		uint16_t port;
		bool takes;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			o->help = true;
			continue;
		}
		if (strcmp(a, "--version") == 0) {
			o->version = true;
			continue;
		}
		if (strcmp(a, "--omit-sandbox-config") == 0) {
			o->omit_sandbox_config = true;
			continue;
		}
		if (strcmp(a, "--insecure-tcp") == 0) {
			o->insecure_tcp = true;
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			snprintf(err, errlen, "unexpected argument '%s' (see --help)", a);
			rc = OSH_EINVAL;
			break;
		}
		eq = strchr(a, '=');
		snprintf(name, sizeof(name), "%.*s", (int)(eq ? eq - a : (long)strlen(a)), a);
		takes = strcmp(name, "--listen") == 0 || strcmp(name, "--config") == 0 ||
			strcmp(name, "--data-dir") == 0 || strcmp(name, "--ocsf-logging") == 0 ||
			strcmp(name, "--store") == 0 || strcmp(name, "--log-retention") == 0 ||
			strcmp(name, "--log-retention-mib") == 0 ||
			strcmp(name, "--sandbox-bin") == 0 || strcmp(name, "--stop-grace") == 0 ||
			strcmp(name, "--socket") == 0 || strcmp(name, "--socket-group") == 0 ||
			strcmp(name, "--tls-cert") == 0 || strcmp(name, "--tls-key") == 0 ||
			strcmp(name, "--client-ca") == 0 ||
			strcmp(name, "--max-connections") == 0 ||
			strcmp(name, "--log-rotation") == 0;
		if (!takes) {
			snprintf(err, errlen, "unknown flag '%s' (see --help)", name);
			rc = OSH_EINVAL;
			break;
		}
		if (eq) {
			v = eq + 1;
		} else if (i + 1 < argc) {
			v = argv[++i];
		} else {
			snprintf(err, errlen, "flag %s needs a value", name);
			rc = OSH_EINVAL;
			break;
		}
		if (strcmp(name, "--listen") == 0) {
			if (strncmp(v, "unix:", 5) == 0) {
				o->socket_path = v + 5; /* same as --socket */
			} else if (osh_parse_hostport(v, true, host, sizeof(host), &port) !=
				   OSH_OK) {
				snprintf(
				    err, errlen,
				    "flag --listen: '%s' is not HOST:PORT with a port from 0 to "
				    "65535 (or unix:PATH)",
				    v);
				rc = OSH_EPARSE;
			} else {
				o->listen = v;
			}
		} else if (strcmp(name, "--socket") == 0) {
			o->socket_path = v;
		} else if (strcmp(name, "--socket-group") == 0) {
			o->socket_group = v;
		} else if (strcmp(name, "--tls-cert") == 0) {
			o->tls_cert = v;
		} else if (strcmp(name, "--tls-key") == 0) {
			o->tls_key = v;
		} else if (strcmp(name, "--client-ca") == 0) {
			o->client_ca = v;
		} else if (strcmp(name, "--max-connections") == 0) {
			rc = parse_size(name, v, &o->max_conns, err, errlen);
		} else if (strcmp(name, "--log-rotation") == 0) {
			if (strcmp(v, "builtin") == 0) {
				o->external_rotation = false;
			} else if (strcmp(v, "external") == 0) {
				o->external_rotation = true;
			} else {
				snprintf(err, errlen,
					 "flag --log-rotation: '%s' is not builtin or external", v);
				rc = OSH_EPARSE;
			}
		} else if (strcmp(name, "--config") == 0) {
			o->config_path = v;
		} else if (strcmp(name, "--data-dir") == 0) {
			o->data_dir = v;
		} else if (strcmp(name, "--store") == 0) {
			const char *target = NULL;

			(void)osh_gw_store_backend(v, &target);
			if (target[0] == '\0') {
				snprintf(
				    err, errlen,
				    "flag --store: '%s' names no database (postgresql://... or "
				    "sqlite:PATH)",
				    v);
				rc = OSH_EPARSE;
			} else {
				o->store = v;
			}
		} else if (strcmp(name, "--ocsf-logging") == 0) {
			rc = osh_gw_layer_set(&o->flag, "ocsf_logging_enabled", v,
					      "flag --ocsf-logging", err, errlen);
		} else if (strcmp(name, "--ocsf-schema-version") == 0) {
			rc = osh_gw_layer_set(&o->flag, "ocsf_schema_version", v,
					      "flag --ocsf-schema-version", err, errlen);
		} else if (strcmp(name, "--log-retention") == 0) {
			rc = parse_size(name, v, &o->log_retention, err, errlen);
		} else if (strcmp(name, "--log-retention-mib") == 0) {
			rc = parse_size(name, v, &o->log_retention_mib, err, errlen);
		} else if (strcmp(name, "--sandbox-bin") == 0) {
			o->sandbox_bin = v;
		} else if (strcmp(name, "--stop-grace") == 0) {
			size_t ms = 0;

			rc = parse_size(name, v, &ms, err, errlen);
			o->stop_grace_ms = (unsigned)ms;
		}
	}
	if (rc == 0) {
		bool any_tls = o->tls_cert || o->tls_key || o->client_ca;
		bool all_tls = o->tls_cert && o->tls_key && o->client_ca;

		if (any_tls && !all_tls) {
			snprintf(err, errlen,
				 "TLS needs --tls-cert, --tls-key and --client-ca together");
			rc = OSH_EINVAL;
		} else if (any_tls && !o->listen) {
			snprintf(err, errlen,
				 "--tls-cert/--tls-key/--client-ca need --listen HOST:PORT");
			rc = OSH_EINVAL;
		} else if (o->listen && !all_tls && !o->insecure_tcp) {
			snprintf(err, errlen,
				 "--listen %s: TCP needs TLS with client certificates (--tls-cert, "
				 "--tls-key, --client-ca) or an explicit --insecure-tcp",
				 o->listen);
			rc = OSH_EINVAL;
		} else if (o->insecure_tcp && all_tls) {
			snprintf(err, errlen, "--insecure-tcp and TLS flags exclude each other");
			rc = OSH_EINVAL;
		} else if (o->insecure_tcp && !o->listen) {
			snprintf(err, errlen, "--insecure-tcp needs --listen HOST:PORT");
			rc = OSH_EINVAL;
		}
	}
	return rc;
}

void osh_gw_usage(void *fp, const char *prog)
{
	FILE *f = fp;

	fprintf(f,
		"Usage: %s [FLAGS]\n"
		"The OpenShell gateway: stores sandboxes, policies, operational config and\n"
		"pushed logs (SQLite or PostgreSQL), serves them over gRPC, and runs local "
		"sandboxes.\n\n"
		"Flags:\n"
		"  --socket PATH           Unix socket to serve on (default\n"
		"                          <data-dir>/gateway.sock, mode 0660); its address\n"
		"                          unix:PATH is written to <data-dir>/gateway.addr when\n"
		"                          ready. Admitted: root, this user, the socket group\n"
		"  --socket-group GROUP    group of the socket (and the data dir), name or gid\n"
		"                          (default: this process's group)\n"
		"  --max-connections N     socket connections open at once (default: from the\n"
		"                          fd limit, which is raised to its hard limit)\n"
		"  --listen HOST:PORT      also serve TCP (port 0 = any free port); needs TLS:\n"
		"  --tls-cert FILE         server certificate chain (PEM)\n"
		"  --tls-key FILE          its private key (PEM)\n"
		"  --client-ca FILE        CA that client certificates must chain to (PEM);\n"
		"                          clients without one are refused\n"
		"  --insecure-tcp          allow --listen without TLS: no authentication at all\n"
		"                          (logged as a High GW_INSECURE_TCP event every start)\n"
		"  --log-rotation MODE     builtin (default: openshell-gateway.log rotates at\n"
		"                          64 MiB and daily, 5 kept) or external (logrotate;\n"
		"                          SIGHUP reopens)\n"
		"  --data-dir DIR          store, config and sandbox files (default\n"
		"                          $XDG_STATE_HOME/openshell, else ./openshell-data)\n"
		"  --store LOCATOR         where sandboxes, config revision and logs live:\n"
		"                          sqlite:PATH (default <data-dir>/gateway.db) or a\n"
		"                          PostgreSQL URI postgresql://... shared by several\n"
		"                          gateways (docs/gateway.md \"Stores\")\n"
		"  --config FILE.yaml      YAML config file (default <data-dir>/gateway.yaml);\n"
		"                          must exist when given; highest priority source\n"
		"  --ocsf-logging BOOL     ocsf_logging_enabled (below the YAML file)\n"
		"  --ocsf-schema-version V ocsf_schema_version: OCSF version of the sandboxes'\n"
		"                          JSONL, " OCSF_VERSION_ACCEPTED " (below the YAML file)\n"
		"  --log-retention N       stored log lines kept per sandbox (default %u)\n"
		"  --log-retention-mib N   stored log bytes kept per sandbox, MiB (default %llu;\n"
		"                          a line costs its text + 64 bytes; oldest go first)\n"
		"  --sandbox-bin PATH      openshell-sandbox to launch (default: next to this\n"
		"                          executable)\n"
		"  --stop-grace MS         DeleteSandbox: SIGTERM -> SIGKILL delay (default %u)\n"
		"  --omit-sandbox-config   test/compat mode: emulate an older gateway that\n"
		"                          sends no SandboxConfig in GetSandboxPolicy\n"
		"  --help, --version\n\n"
		"Environment:\n"
		"  OPENSHELL_OCSF_LOGGING  ocsf_logging_enabled (lowest priority source)\n"
		"  OPENSHELL_OCSF_SCHEMA_VERSION  ocsf_schema_version (lowest priority source)\n"
		"  OPENSHELL_GATEWAY_LOG_LEVEL  debug|info|warn|error for stderr (default info)\n\n"
		"BOOL: true/false, yes/no, on/off, 1/0. Signals: SIGHUP reloads the YAML file\n"
		"(also reloaded on change); SIGTERM/SIGINT shut down cleanly.\n\n",
		prog, OSH_GW_STORE_DEFAULT_RETENTION,
		(unsigned long long)(OSH_GW_STORE_DEFAULT_RETENTION_BYTES >> 20),
		OSH_GW_DEFAULT_GRACE_MS);
	osh_gw_config_help(f);
}

int osh_gw_default_data_dir(char *buf, size_t cap)
{
	const char *x = getenv("XDG_STATE_HOME");
	int n;

	if (x && x[0] == '/')
		n = snprintf(buf, cap, "%s/openshell", x);
	else
		n = snprintf(buf, cap, "./openshell-data");
	return (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : 0;
}

/* ------------------------------------------------- per-thread stores -- */

/* Worker threads of the rpc pool: enough for a slow query, a push storm and
 * a watch replay at once on a small machine. */
#define GW_WORKERS 4

static atomic_uint_fast64_t gw_serials;

/* The calling thread's connection for the gateway with this serial. */
static _Thread_local struct {
	uint64_t serial;
	struct osh_gw_store *st;
} tls_store;

struct osh_gw_store *gw_store(struct osh_gw *gw)
{
	struct gw_tstore *t = NULL;
	struct osh_gw_store *st = NULL;
	char err[256];

	if (tls_store.serial == gw->serial && tls_store.st)
		return tls_store.st;
	t = calloc(1, sizeof(*t));
	if (!t || osh_gw_store_create(&st, gw->db_path, &gw->store_opts, err, sizeof(err)) != 0) {
		osh_gw_log(OSH_GW_LOG_WARN, "cannot open a store connection for this thread: %s",
			   t ? err : "out of memory");
		free(t);
		return gw->store;
	}
	t->st = st;
	pthread_mutex_lock(&gw->tstore_mu);
	t->next = gw->tstores;
	gw->tstores = t;
	pthread_mutex_unlock(&gw->tstore_mu);
	tls_store.serial = gw->serial;
	tls_store.st = st;
	return st;
}

/* Store link callback of every connection of this gateway: one event per
 * outage and one per recovery, however many per-thread connections see it. */
static void gw_store_link(void *ud, bool up, const char *detail)
{
	struct osh_gw *gw = ud;

	if (atomic_exchange(&gw->store_down, !up) == !up)
		return;
	if (up)
		osh_gw_log(OSH_GW_LOG_INFO, "store: PostgreSQL reachable again");
	else
		osh_gw_log(OSH_GW_LOG_ERROR,
			   "store: PostgreSQL unreachable (writes answer "
			   "UNAVAILABLE until it is back): %s",
			   detail);
	gw_ev_store_link(up, gw->store_server, detail);
}

/* gw_auth's view of the store: the calling thread's connection. */
static struct osh_gw_store *auth_store(void *ud)
{
	return gw_store(ud);
}

void gw_tstores_close(struct osh_gw *gw)
{
	pthread_mutex_lock(&gw->tstore_mu);
	while (gw->tstores) {
		struct gw_tstore *t = gw->tstores;

		gw->tstores = t->next;
		osh_gw_store_destroy(t->st);
		free(t);
	}
	pthread_mutex_unlock(&gw->tstore_mu);
}

/* ----------------------------------------------------------- children -- */

int gw_child_add(struct osh_gw *gw, pid_t pid, const char *id, bool adopted)
{
	struct gw_child *c = calloc(1, sizeof(*c));

	if (!c)
		return OSH_ENOMEM;
	c->pid = pid;
	c->adopted = adopted;
	snprintf(c->id, sizeof(c->id), "%s", id);
	c->next = gw->children;
	gw->children = c;
	return 0;
}

struct gw_child *gw_child_find(struct osh_gw *gw, const char *id)
{
	struct gw_child *c = gw->children;

	while (c && strcmp(c->id, id) != 0)
		c = c->next;
	return c;
}

static struct gw_delete *delete_for(struct osh_gw *gw, const char *id)
{
	struct gw_delete *d = gw->deletes;

	while (d && strcmp(d->id, id) != 0)
		d = d->next;
	return d;
}

/* A supervisor ended: record it, then finish a pending delete if any. */
static void child_gone(struct osh_gw *gw, struct gw_child *c, bool has_status, int status)
{
	struct gw_child **pp;
	struct gw_delete *d;
	int code = 0, sig = 0;
	enum osh_gw_sb_state st = OSH_GW_SB_LOST;

	if (has_status) {
		st = OSH_GW_SB_EXITED;
		if (WIFEXITED(status))
			code = WEXITSTATUS(status);
		else if (WIFSIGNALED(status))
			sig = WTERMSIG(status);
	}
	gw_ev_sandbox_exit(c->id, (int)c->pid, code, sig, !has_status);
	if (osh_gw_store_sandbox_set_state(gw->store, c->id, st, 0, code, sig) == 0) {
		if (!has_status)
			gw_note(gw, c->id, "WARN",
				"supervisor pid %d is gone (exit status unknown: "
				"started by an earlier gateway run)",
				(int)c->pid);
		else if (sig)
			gw_note(gw, c->id, "WARN", "supervisor pid %d killed by signal %d",
				(int)c->pid, sig);
		else
			gw_note(gw, c->id, code ? "WARN" : "INFO",
				"supervisor pid %d exited with code %d", (int)c->pid, code);
	}
	d = delete_for(gw, c->id);
	for (pp = &gw->children; *pp && *pp != c; pp = &(*pp)->next)
		;
	if (*pp)
		*pp = c->next;
	if (d)
		gw_delete_complete(gw, d, sig ? 128 + sig : code, has_status);
	free(c);
}

static void reap(struct osh_gw *gw)
{
	for (;;) {
		int status = 0;
		pid_t pid = waitpid(-1, &status, WNOHANG);
		struct gw_child *c;

		if (pid <= 0)
			break;
		for (c = gw->children; c && (c->pid != pid || c->adopted); c = c->next)
			;
		if (c)
			child_gone(gw, c, true, status);
	}
}

static void check_adopted(struct osh_gw *gw)
{
	struct gw_child *c = gw->children, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->adopted && !osh_gw_pid_runs_sandbox(c->pid, c->id))
			child_gone(gw, c, false, 0);
	}
}

static void escalate_deletes(struct osh_gw *gw)
{
	int64_t now = osh_time_mono_ms();

	for (struct gw_delete *d = gw->deletes; d; d = d->next) {
		if (d->killed || now < d->kill_at_ms || d->pid <= 0)
			continue;
		d->killed = true;
		gw_note(gw, d->id, "WARN",
			"supervisor pid %d still running %u ms after SIGTERM: SIGKILL", (int)d->pid,
			gw->stop_grace_ms);
		kill(d->pid, SIGKILL);
		kill(-d->pid, SIGKILL); /* its session/process group: the agent too */
	}
}

/* After a restart: supervisors recorded as running are adopted when their pid
 * still runs them, else marked lost. Records a crash left mid-create fail. */
static int reconcile(struct osh_gw *gw)
{
	struct osh_gw_sandbox *arr = NULL;
	size_t n = 0;
	int rc = osh_gw_store_sandbox_list(gw->store, &arr, &n);

	for (size_t i = 0; rc == 0 && i < n; i++) {
		struct osh_gw_sandbox *sb = &arr[i];

		if (sb->state == OSH_GW_SB_RUNNING) {
			if (osh_gw_pid_runs_sandbox(sb->pid, sb->id)) {
				rc = gw_child_add(gw, sb->pid, sb->id, true);
				osh_gw_log(
				    OSH_GW_LOG_INFO,
				    "sandbox %s ('%s'): supervisor pid %d still running, adopted",
				    sb->id, sb->name, sb->pid);
			} else {
				rc = osh_gw_store_sandbox_set_state(gw->store, sb->id,
								    OSH_GW_SB_LOST, 0, 0, 0);
				gw_note(
				    gw, sb->id, "WARN",
				    "supervisor pid %d is gone after a gateway restart; state lost",
				    sb->pid);
			}
		} else if (sb->state == OSH_GW_SB_CREATED) {
			rc = osh_gw_store_sandbox_set_state(gw->store, sb->id, OSH_GW_SB_FAILED, 0,
							    0, 0);
		}
	}
	osh_gw_sandbox_list_free(arr, n);
	return rc;
}

/* ------------------------------------------------------- address file -- */

static int write_addr_file(struct osh_gw *gw)
{
	char line[160], err[PATH_MAX + 128];
	int n, rc;

	n = snprintf(line, sizeof(line), "%s\n", gw->addr);
	/* Exclusive temp name, never through a planted symlink (F15). */
	rc = osh_gw_file_replace(gw->addr_path, line, (size_t)n, 0644, false, err, sizeof(err));
	if (rc != 0)
		osh_gw_log(OSH_GW_LOG_ERROR, "cannot write %s: %s", gw->addr_path, err);
	return rc;
}

/* --------------------------------------------------------------- tick -- */

static void log_reload(struct osh_gw *gw, int rc, bool changed, const char *why, const char *err)
{
	struct osh_gw_config c;
	uint64_t rev;

	osh_gw_cfgstate_get(gw->cfg, &c, &rev);
	if (rc != 0)
		osh_gw_log(
		    OSH_GW_LOG_ERROR,
		    "config reload (%s) failed, keeping the current config (revision %llu): %s",
		    why, (unsigned long long)rev, err);
	else if (changed)
		osh_gw_log(OSH_GW_LOG_INFO,
			   "config reloaded (%s): ocsf_logging_enabled=%s (%s), revision %llu", why,
			   c.v.ocsf_logging_enabled ? "true" : "false",
			   osh_gw_src_name(c.src[OSH_GW_KEY_OCSF_LOGGING_ENABLED]),
			   (unsigned long long)rev);
	else
		osh_gw_log(OSH_GW_LOG_DEBUG, "config reloaded (%s): no effective change", why);
}

bool gw_ocsf_effective(struct osh_gw *gw, const struct osh_gw_config *c)
{
	return c->v.ocsf_logging_enabled || gx_export_active(gw->exp);
}

/* One mechanism for every way the config changes (SetConfig, SIGHUP, the
 * file watch): the tick compares the live revision with the one last
 * reported, emits GW_CONFIG_CHANGE with old/new values, and applies the
 * gateway's own JSONL toggle, which is on while ocsf_logging_enabled is or
 * an export destination is configured (the export takes the gateway's own
 * events with their JSON). */
static void report_config(struct osh_gw *gw)
{
	struct osh_gw_config c;
	uint64_t rev;
	bool now, eff;

	osh_gw_cfgstate_get(gw->cfg, &c, &rev);
	now = c.v.ocsf_logging_enabled;
	eff = gw_ocsf_effective(gw, &c);
	if (eff && !gw->jsonl_on) {
		osh_emit_set_jsonl(true);
		gw->jsonl_on = true;
	}
	if (rev != gw->ev_rev) {
		if (now != gw->ev_ocsf)
			gw_ev_config_change(
			    "ocsf_logging_enabled", gw->ev_ocsf ? "true" : "false",
			    now ? "true" : "false", rev,
			    osh_gw_src_name(c.src[OSH_GW_KEY_OCSF_LOGGING_ENABLED]));
		gw->ev_ocsf = now;
		if (c.v.ocsf_schema_version != gw->ev_ocsf_version) {
			gw_ev_config_change(
			    "ocsf_schema_version",
			    ocsf_version_name((enum ocsf_version)gw->ev_ocsf_version),
			    ocsf_version_name((enum ocsf_version)c.v.ocsf_schema_version), rev,
			    osh_gw_src_name(c.src[OSH_GW_KEY_OCSF_SCHEMA_VERSION]));
			gw->ev_ocsf_version = c.v.ocsf_schema_version;
		}
		gw->ev_rev = rev;
	}
	if (!eff && gw->jsonl_on) { /* the change itself is the last JSONL record */
		osh_emit_set_jsonl(false);
		gw->jsonl_on = false;
	}
}

/* The export section is part of the same YAML file: every reload of the
 * file reloads it too; a malformed section keeps the running one. */
static void reload_export(struct osh_gw *gw, const char *why)
{
	char err[1024] = "";

	if (gx_export_reload(gw->exp, err, sizeof(err)) != 0)
		osh_gw_log(
		    OSH_GW_LOG_ERROR,
		    "export config reload (%s) refused, keeping the running destinations: %s", why,
		    err);
}

static void tick(struct osh_rpc_server *srv, void *ud)
{
	struct osh_gw *gw = ud;
	char err[512] = "";
	bool reloaded = false, changed = false;
	int rc;

	(void)srv;
	if (!gw->addr_written && !gw->listen_logged) {
		/* Logged before the address file appears, so whoever waits for
		 * the file finds the line already written. */
		gw->listen_logged = true;
		if (gw->tcp_addr[0])
			osh_gw_log(OSH_GW_LOG_INFO, "listening on %s and on TCP %s", gw->addr,
				   gw->tcp_addr);
		else
			osh_gw_log(OSH_GW_LOG_INFO, "listening on %s", gw->addr);
	}
	if (!gw->addr_written)
		gw->addr_written = write_addr_file(gw) == 0;
	if (atomic_exchange(&gw->reload_req, 0)) {
		rc = osh_gw_cfgstate_reload(gw->cfg, &changed, err, sizeof(err));
		log_reload(gw, rc, changed, "SIGHUP", err);
		reload_export(gw, "SIGHUP");
	}
	rc = osh_gw_cfgstate_poll(gw->cfg, &reloaded, &changed, err, sizeof(err));
	if (reloaded) {
		log_reload(gw, rc, changed, "file changed", err);
		reload_export(gw, "file changed");
	}
	if (osh_time_mono_ms() >= gw->next_cfg_sync_ms) {
		gw->next_cfg_sync_ms = osh_time_mono_ms() + CFG_SYNC_MS;
		rc = osh_gw_cfgstate_refresh(gw->cfg, &changed, err, sizeof(err));
		if (rc != 0) /* an outage is reported once, by the store's link events */
			osh_gw_log(OSH_GW_LOG_DEBUG, "shared config not refreshed: %s", err);
		else if (changed)
			log_reload(gw, rc, changed, "shared value changed", err);
	}
	report_config(gw);
	reap(gw);
	if (osh_time_mono_ms() >= gw->next_adopt_check_ms) {
		gw->next_adopt_check_ms = osh_time_mono_ms() + ADOPT_CHECK_MS;
		check_adopted(gw);
	}
	escalate_deletes(gw);
}

/* ---------------------------------------------------------- lifecycle -- */

static int path_join(char *out, size_t cap, const char *a, const char *b)
{
	int n = snprintf(out, cap, "%s/%s", a, b);

	return (n < 0 || (size_t)n >= cap) ? OSH_ETOOBIG : 0;
}

/* "<host>:<port>" of the TCP listener with the bound port. */
static void tcp_addr_of(struct osh_gw *gw, const char *listen, int port)
{
	const char *colon = strrchr(listen, ':');
	int hl = (int)(colon - listen);

	snprintf(gw->tcp_addr, sizeof(gw->tcp_addr), "%.*s:%d", hl, listen, port);
}

/* Reads a PEM file (at most 1 MiB) into a NUL-terminated heap string. */
static char *read_pem(const char *path, const char *flag, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	size_t n = 0;

	if (f == NULL) {
		snprintf(err, errlen, "%s %s: %s", flag, path, strerror(errno));
		goto out;
	}
	buf = malloc((1u << 20) + 1);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	n = fread(buf, 1, 1u << 20, f);
	buf[n] = '\0';
	if (n == 0 || n == (1u << 20) || strstr(buf, "-----BEGIN ") == NULL) {
		snprintf(err, errlen, "%s %s: not a PEM file (empty, over 1 MiB or no BEGIN line)",
			 flag, path);
		free(buf);
		buf = NULL;
	}
out:
	if (f != NULL)
		fclose(f);
	return buf;
}

/* The socket group: a name or a number; NULL = this process's group. */
static int resolve_group(const char *g, gid_t *out, char *err, size_t errlen)
{
	char *end = NULL;
	unsigned long v = 0;
	struct group *gr;
	int rc = 0;

	*out = getegid();
	if (g != NULL) {
		errno = 0;
		v = strtoul(g, &end, 10);
	}
	if (g == NULL) {
		/* default: this process's group */
	} else if (g[0] != '\0' && *end == '\0' && errno == 0 && v < 0x7fffffff) {
		*out = (gid_t)v;
	} else if ((gr = getgrnam(g)) != NULL) {
		*out = gr->gr_gid;
	} else {
		snprintf(err, errlen, "--socket-group: no group named '%s'", g);
		rc = OSH_ENOTFOUND;
	}
	return rc;
}

/* F17: serve as many connections as the hard limit allows, and size the
 * socket's connection cap below it (room for the store, logs, spawns). */
static size_t raise_fd_limit(size_t want)
{
	struct rlimit rl;
	size_t cap = 256;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		if (rl.rlim_cur < rl.rlim_max) {
			rl.rlim_cur = rl.rlim_max;
			if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
				(void)getrlimit(RLIMIT_NOFILE, &rl);
		}
		cap = rl.rlim_cur == RLIM_INFINITY ? 4096 : (size_t)rl.rlim_cur / 2;
	}
	if (cap > 4096)
		cap = 4096;
	if (cap < 8)
		cap = 8;
	if (want != 0 && want < cap)
		cap = want;
	return cap;
}

int osh_gw_create(struct osh_gw **out, const struct osh_gw_opts *o, char *err, size_t errlen)
{
	struct osh_gw *gw = NULL;
	struct osh_gw_store_opts so = {.log_retention = o->log_retention,
				       .log_retention_bytes = (uint64_t)o->log_retention_mib << 20};
	struct osh_gw_cfgstate_opts co;
	struct osh_gw_layer env;
	struct osh_rpc_server_opts ro;
	char dbpath[PATH_MAX];
	char *cert = NULL, *key = NULL, *ca = NULL;
	gid_t group = 0;
	int rc = OSH_ENOMEM;

	*out = NULL;
	gw = calloc(1, sizeof(*gw));
	if (!gw) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	gw->lock_fd = -1;
	atomic_init(&gw->reload_req, 0);
	atomic_init(&gw->store_down, false);
	so.on_link = gw_store_link;
	if (o->store)
		osh_gw_store_pg_server(o->store, gw->store_server, sizeof(gw->store_server));
	so.link_ud = gw;
	pthread_mutex_init(&gw->pub_mu, NULL);
	pthread_mutex_init(&gw->fol_mu, NULL);
	pthread_mutex_init(&gw->del_mu, NULL);
	pthread_mutex_init(&gw->tstore_mu, NULL);
	gw->serial = atomic_fetch_add(&gw_serials, 1) + 1;
	gw->omit_sandbox_config = o->omit_sandbox_config;
	gw->stop_grace_ms = o->stop_grace_ms ? o->stop_grace_ms : OSH_GW_DEFAULT_GRACE_MS;
	gw->log_retention = o->log_retention ? o->log_retention : OSH_GW_STORE_DEFAULT_RETENTION;
	if (o->data_dir)
		rc = snprintf(gw->data_dir, sizeof(gw->data_dir), "%s", o->data_dir) <
			     (int)sizeof(gw->data_dir)
			 ? 0
			 : OSH_ETOOBIG;
	else
		rc = osh_gw_default_data_dir(gw->data_dir, sizeof(gw->data_dir));
	if (rc == 0)
		rc = path_join(gw->addr_path, sizeof(gw->addr_path), gw->data_dir, "gateway.addr");
	if (rc == 0)
		rc = path_join(gw->sandboxes_dir, sizeof(gw->sandboxes_dir), gw->data_dir,
			       "sandboxes");
	if (rc == 0 && o->store)
		rc = snprintf(dbpath, sizeof(dbpath), "%s", o->store) < (int)sizeof(dbpath)
			 ? 0
			 : OSH_ETOOBIG;
	else if (rc == 0)
		rc = path_join(dbpath, sizeof(dbpath), gw->data_dir, "gateway.db");
	if (rc == 0 && o->config_path)
		rc = snprintf(gw->yaml_path, sizeof(gw->yaml_path), "%s", o->config_path) <
			     (int)sizeof(gw->yaml_path)
			 ? 0
			 : OSH_ETOOBIG;
	else if (rc == 0)
		rc = path_join(gw->yaml_path, sizeof(gw->yaml_path), gw->data_dir, "gateway.yaml");
	if (rc == 0 && o->sandbox_bin) {
		snprintf(gw->sandbox_bin, sizeof(gw->sandbox_bin), "%s", o->sandbox_bin);
	} else if (rc == 0) {
		char dir[PATH_MAX];

		rc = osh_gw_exe_dir(dir, sizeof(dir));
		if (rc == 0)
			rc = path_join(gw->sandbox_bin, sizeof(gw->sandbox_bin), dir,
				       "openshell-sandbox");
	}
	if (rc != 0) {
		snprintf(err, errlen, "paths: %s", osh_strerror(rc));
		goto out;
	}
	if (osh_gw_mkdirs(gw->data_dir, 0750) != 0) {
		rc = OSH_ESYS;
		snprintf(err, errlen, "data dir %s: %s", gw->data_dir, strerror(errno));
		goto out;
	}
	/* One gateway per data dir (F16): a second one stops here, before it
	 * touches anything of the first one's (gateway.addr, store, sandboxes). */
	rc = osh_gw_file_lock_dir(gw->data_dir, &gw->lock_fd, err, errlen);
	if (rc != 0)
		goto out;
	if (osh_gw_mkdirs(gw->sandboxes_dir, 0750) != 0) {
		rc = OSH_ESYS;
		snprintf(err, errlen, "data dir %s: %s", gw->sandboxes_dir, strerror(errno));
		goto out;
	}
	unlink(gw->addr_path); /* a stale address must not look like readiness */
	{
		char abs[PATH_MAX];
		const char *sp = o->socket_path;
		int n;

		if (realpath(gw->data_dir, abs) == NULL) {
			rc = OSH_ESYS;
			snprintf(err, errlen, "data dir %s: %s", gw->data_dir, strerror(errno));
			goto out;
		}
		if (sp == NULL)
			n = snprintf(gw->addr, sizeof(gw->addr), "unix:%s/gateway.sock", abs);
		else if (sp[0] == '/')
			n = snprintf(gw->addr, sizeof(gw->addr), "unix:%s", sp);
		else if (getcwd(abs, sizeof(abs)) != NULL)
			n = snprintf(gw->addr, sizeof(gw->addr), "unix:%s/%s", abs, sp);
		else
			n = -1;
		if (n < 0 || (size_t)n >= sizeof(gw->addr)) {
			rc = OSH_ETOOBIG;
			snprintf(err, errlen, "socket path: %s", osh_strerror(rc));
			goto out;
		}
	}

	snprintf(gw->db_path, sizeof(gw->db_path), "%s", dbpath);
	gw->store_opts = so;
	rc = osh_gw_store_create(&gw->store, dbpath, &so, err, errlen);
	if (rc != 0)
		goto out;
	osh_gw_layer_init(&env);
	rc = osh_gw_layer_from_env(&env, err, errlen);
	if (rc != 0)
		goto out;
	memset(&co, 0, sizeof(co));
	co.yaml_path = gw->yaml_path;
	co.yaml_required = o->config_path != NULL;
	co.flag = &o->flag;
	co.env = &env;
	co.store = gw->store;
	co.watch = true;
	rc = osh_gw_cfgstate_create(&gw->cfg, &co, err, errlen);
	if (rc != 0)
		goto out;
	rc = reconcile(gw);
	if (rc != 0) {
		snprintf(err, errlen, "reconcile sandboxes: %s", osh_gw_store_errmsg(gw->store));
		goto out;
	}

	{
		struct osh_gw_config c0;

		osh_gw_cfgstate_get(gw->cfg, &c0, NULL);
		gw->ev_ocsf = c0.v.ocsf_logging_enabled;
		gw->jsonl_on = gw->ev_ocsf;
		gw->ev_ocsf_version = c0.v.ocsf_schema_version;
	}
	rc = gw_sites_init(gw->data_dir, gw->ev_ocsf, !o->external_rotation, &gw->sites_owned);
	if (rc != 0 && rc != OSH_ESTATE) {
		snprintf(err, errlen, "event log in %s: %s", gw->data_dir, osh_strerror(rc));
		goto out;
	}
	{
		struct gx_export_opts xo = {
		    .data_dir = gw->data_dir,
		    .yaml_path = gw->yaml_path,
		    /* the gateway's own events, unless another runtime (an
		     * in-process test gateway) owns the feed */
		    .drain_feed = gw->sites_owned,
		};

		rc = gx_export_create(&xo, &gw->exp, err, errlen);
		if (rc != 0)
			goto out;
		if (gx_export_active(gw->exp) && !gw->jsonl_on && gw->sites_owned) {
			osh_emit_set_jsonl(true);
			gw->jsonl_on = true;
		}
	}
	rc = resolve_group(o->socket_group, &group, err, errlen);
	if (rc != 0)
		goto out;
	if (o->socket_group != NULL &&
	    (chown(gw->data_dir, (uid_t)-1, group) != 0 || chmod(gw->data_dir, 0750) != 0)) {
		rc = OSH_ESYS;
		snprintf(err, errlen, "data dir %s: cannot give it group %u: %s", gw->data_dir,
			 (unsigned)group, strerror(errno));
		goto out;
	}
	rc = gw_auth_create(&gw->auth, group, auth_store, gw, err, errlen);
	if (rc == 0) {
		size_t imported = 0, skipped = 0;

		/* Data dirs of gateways that kept credential digests in files. */
		rc = gw_auth_import_files(gw->auth, gw->data_dir, &imported, &skipped, err, errlen);
	}
	if (rc != 0)
		goto out;
	if (o->listen && !o->insecure_tcp && !(o->tls_cert && o->tls_key && o->client_ca)) {
		rc = OSH_EINVAL;
		snprintf(err, errlen,
			 "--listen %s: TCP needs TLS with client certificates or --insecure-tcp",
			 o->listen);
		goto out;
	}
	if (o->listen && !o->insecure_tcp) {
		cert = read_pem(o->tls_cert, "--tls-cert", err, errlen);
		key = cert ? read_pem(o->tls_key, "--tls-key", err, errlen) : NULL;
		ca = key ? read_pem(o->client_ca, "--client-ca", err, errlen) : NULL;
		if (ca == NULL) {
			rc = OSH_EINVAL;
			goto out;
		}
	}

	memset(&ro, 0, sizeof(ro));
	ro.service = &openshell__v1__open_shell__descriptor;
	ro.workers = GW_WORKERS;
	ro.listen = gw->addr;
	ro.also_listen = o->listen;
	ro.socket_mode = 0660;
	ro.socket_set_gid = o->socket_group != NULL;
	ro.socket_gid = group;
	ro.peer_check = gw_auth_peer_ok;
	ro.on_refuse = gw_auth_on_refuse;
	ro.peer_ud = gw->auth;
	ro.max_conns = raise_fd_limit(o->max_conns);
	ro.tls_cert_pem = cert;
	ro.tls_key_pem = key;
	ro.tls_client_ca_pem = ca;
	ro.authz = gw_auth_authz;
	ro.authz_ud = gw->auth;
	ro.tick_ms = TICK_MS;
	ro.tick = tick;
	ro.tick_ud = gw;
	rc = osh_rpc_server_create(&ro, &gw->srv);
	if (rc != 0) {
		snprintf(err, errlen, "gRPC server: %s", osh_strerror(rc));
		goto out;
	}
	rc = gw_services_register(gw);
	if (rc != 0) {
		snprintf(err, errlen, "register services: %s", osh_strerror(rc));
		goto out;
	}
	rc = osh_rpc_server_start(gw->srv);
	if (rc != 0) {
		snprintf(err, errlen, "cannot listen on %s%s%s: %s", gw->addr + 5,
			 o->listen ? " / " : "", o->listen ? o->listen : "",
			 osh_rpc_server_error(gw->srv)[0] ? osh_rpc_server_error(gw->srv)
							  : osh_strerror(rc));
		goto out;
	}
	snprintf(gw->sup_addr, sizeof(gw->sup_addr), "%s", gw->addr);
	if (o->listen)
		tcp_addr_of(gw, o->listen, osh_rpc_server_port(gw->srv));
	{
		struct osh_gw_config c;
		uint64_t rev;
		char addrs[sizeof(gw->addr) + sizeof(gw->tcp_addr) + 8];

		osh_gw_cfgstate_get(gw->cfg, &c, &rev);
		gw->ev_rev = rev;
		snprintf(addrs, sizeof(addrs), "%s%s%s", gw->addr, gw->tcp_addr[0] ? ", " : "",
			 gw->tcp_addr);
		gw_ev_start(addrs, gw->data_dir, rev);
		if (o->insecure_tcp)
			gw_ev_insecure_tcp(gw->tcp_addr);
		else if (o->listen)
			gw_ev_tls_tcp(gw->tcp_addr);
		osh_gw_log(
		    OSH_GW_LOG_INFO,
		    "data dir %s, config %s, ocsf_logging_enabled=%s (%s), config revision %llu%s",
		    gw->data_dir, gw->yaml_path, c.v.ocsf_logging_enabled ? "true" : "false",
		    osh_gw_src_name(c.src[OSH_GW_KEY_OCSF_LOGGING_ENABLED]),
		    (unsigned long long)rev,
		    gw->omit_sandbox_config ? " (omitting SandboxConfig: compat test mode)" : "");
		if (o->insecure_tcp)
			osh_gw_log(OSH_GW_LOG_WARN,
				   "plain TCP on %s (--insecure-tcp): no authentication, no "
				   "encryption",
				   gw->tcp_addr);
	}
	*out = gw;
	gw = NULL;
	rc = 0;
out:
	free(cert);
	free(key);
	free(ca);
	osh_gw_destroy(gw);
	return rc;
}

const char *osh_gw_addr(const struct osh_gw *gw)
{
	return gw->addr;
}

const char *osh_gw_tcp_addr(const struct osh_gw *gw)
{
	return gw->tcp_addr;
}

int osh_gw_run(struct osh_gw *gw)
{
	return osh_rpc_server_run(gw->srv);
}

int osh_gw_spawn(struct osh_gw *gw)
{
	int rc = osh_rpc_server_spawn(gw->srv);

	gw->spawned = rc == 0;
	return rc;
}

void osh_gw_stop(struct osh_gw *gw)
{
	if (gw && gw->srv)
		osh_rpc_server_stop(gw->srv);
}

void osh_gw_request_reload(struct osh_gw *gw)
{
	if (gw) {
		atomic_store(&gw->reload_req, 1);
		/* external logrotate: reopen the event logs (async-signal-safe) */
		osh_emit_request_reopen();
	}
}

void osh_gw_destroy(struct osh_gw *gw)
{
	if (!gw)
		return;
	/* destroy stops and joins the loop; on_done callbacks release every call
	 * reference held by followers and pending deletes before it returns. */
	if (gw->srv != NULL && gw->ev_rev != 0)
		gw_ev_stop("shutdown");
	osh_rpc_server_destroy(gw->srv);
	gw->srv = NULL;
	if (gw->addr_written)
		unlink(gw->addr_path);
	while (gw->followers) {
		struct gw_follower *f = gw->followers;

		gw->followers = f->next;
		free(f->min_level);
		for (size_t i = 0; i < f->n_sources; i++)
			free(f->sources[i]);
		free(f->sources);
		free(f);
	}
	while (gw->deletes) {
		struct gw_delete *d = gw->deletes;

		gw->deletes = d->next;
		free(d);
	}
	while (gw->children) {
		struct gw_child *c = gw->children;

		gw->children = c->next;
		free(c);
	}
	osh_gw_cfgstate_destroy(gw->cfg);
	gw_tstores_close(gw);
	osh_gw_store_destroy(gw->store);
	gw_auth_destroy(gw->auth);
	/* after every event producer, before the runtime whose feed it drains */
	gx_export_destroy(gw->exp);
	gw_sites_fini(gw->sites_owned);
	pthread_mutex_destroy(&gw->pub_mu);
	pthread_mutex_destroy(&gw->fol_mu);
	pthread_mutex_destroy(&gw->del_mu);
	pthread_mutex_destroy(&gw->tstore_mu);
	if (gw->lock_fd >= 0)
		close(gw->lock_fd); /* releases the data dir (last: after every file) */
	free(gw);
}
