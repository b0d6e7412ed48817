/* cli_ssh.c - `openshell sandbox ssh-proxy | ssh-config | exec | connect`
 * (docs/ssh.md).
 *
 * DESIGN
 * ssh-proxy is the byte pipe: ConnectSandboxSsh (a server stream: the
 * sandbox's bytes, after the gateway passed the NSSH1 preface) to stdout,
 * and stdin to SendSandboxSsh calls, one at a time and in order, on a
 * second thread (the rpc client may be shared by threads; the stream is
 * read by the main thread only). It is what OpenSSH runs as ProxyCommand.
 * exec and connect run the Debian OpenSSH client (`ssh`) with that
 * ProxyCommand, so terminal modes, window changes, signals and exit status
 * are OpenSSH's own; the CLI only pins the host key: it writes the key the
 * gateway holds (reported by the supervisor, Sandbox.ssh_host_key) into its
 * own known_hosts under the alias openshell-NAME and runs ssh with
 * StrictHostKeyChecking=yes against that file, so a different key is
 * refused. Ownership: everything here is per call; nothing is kept.
 */
#include "cli_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sandbox.pb-c.h"

#define SVC	  (&openshell__v1__open_shell__descriptor)
#define CHUNK	  32768
#define SSH_PROG  "ssh"
#define HOST_USER "sandbox"

/* ------------------------------------------------------------ ssh-proxy -- */

struct pump {
	struct osh_rpc_client *c;
	char session[64];
	atomic_int rc; /* 0 running, 1 input done, or OSH_E* of the upward direction */
};

static int send_up(struct pump *p, const void *data, size_t len, bool eof)
{
	Openshell__V1__SendSandboxSshRequest req = OPENSHELL__V1__SEND_SANDBOX_SSH_REQUEST__INIT;
	struct osh_rpc_call_opts o = {.timeout_ms = 30000};
	struct osh_rpc_status st;
	ProtobufCMessage *resp = NULL;
	int rc;

	req.session = p->session;
	req.data.data = (uint8_t *)(uintptr_t)data;
	req.data.len = len;
	req.eof = eof;
	rc = osh_rpc_client_unary(p->c, "SendSandboxSsh", &req.base, &o, &resp, &st);
	osh_rpc_msg_free(resp);
	return rc;
}

static void *pump_up(void *arg)
{
	struct pump *p = arg;
	char *buf = malloc(CHUNK);
	int rc = buf ? 0 : OSH_ENOMEM;

	while (!rc) {
		ssize_t n = read(0, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = send_up(p, NULL, 0, true);
			if (rc == 0)
				rc = 1; /* input done, EOF passed on */
			break;
		}
		rc = send_up(p, buf, (size_t)n, false);
	}
	free(buf);
	atomic_store(&p->rc, rc);
	return NULL;
}

static bool write_all(int fd, const uint8_t *b, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, b, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		b += w;
		n -= (size_t)w;
	}
	return true;
}

static int ssh_proxy(const struct osh_cli_args *a, struct osh_rpc_client *c, FILE *err)
{
	Openshell__V1__ConnectSandboxSshRequest req =
	    OPENSHELL__V1__CONNECT_SANDBOX_SSH_REQUEST__INIT;
	struct osh_rpc_call_opts o = {0};
	struct osh_rpc_sstream *ss = NULL;
	struct osh_rpc_status st;
	ProtobufCMessage *m = NULL;
	struct pump p = {.c = c};
	pthread_t th;
	bool started = false;
	int ret = OSH_CLI_EXIT_FAIL, rc;

	memset(&st, 0, sizeof(st));
	req.name = OSH_RPC_STR(a->name);
	if (osh_rpc_sstream_open(c, "ConnectSandboxSsh", &req.base, &o, &ss) != 0) {
		fprintf(err, "openshell: sandbox ssh-proxy: cannot open the relay\n");
		goto out;
	}
	rc = osh_rpc_sstream_next(ss, -1, &m, &st);
	if (rc != 0) {
		fprintf(err, "openshell: sandbox ssh-proxy %s: %s\n", a->name,
			st.message[0] ? st.message : osh_rpc_status_name(st.code));
		ret = st.code == OSH_RPC_UNAVAILABLE && strstr(st.message, "sandbox") == NULL
			  ? OSH_CLI_EXIT_UNREACHABLE
			  : OSH_CLI_EXIT_FAIL;
		goto out;
	}
	{
		const Openshell__V1__SandboxSshData *d = (const void *)m;

		if (!d->session || !d->session[0] || strlen(d->session) >= sizeof(p.session)) {
			fprintf(err, "openshell: sandbox ssh-proxy: the gateway sent no session\n");
			goto out;
		}
		snprintf(p.session, sizeof(p.session), "%s", d->session);
	}
	osh_rpc_msg_free(m);
	m = NULL;
	if (pthread_create(&th, NULL, pump_up, &p) != 0) {
		fprintf(err, "openshell: sandbox ssh-proxy: cannot start a thread\n");
		goto out;
	}
	started = true;
	for (;;) {
		const Openshell__V1__SandboxSshData *d;

		rc = osh_rpc_sstream_next(ss, 500, &m, &st);
		if (rc == OSH_ETIMEDOUT) {
			int up = atomic_load(&p.rc);

			if (up != 0 && up != 1) {
				fprintf(err,
					"openshell: sandbox ssh-proxy %s: sending failed: %s\n",
					a->name, osh_strerror(up));
				break;
			}
			continue;
		}
		if (rc == OSH_ECLOSED && st.code == OSH_RPC_OK) {
			ret = OSH_CLI_EXIT_OK;
			break;
		}
		if (rc != 0) {
			fprintf(err, "openshell: sandbox ssh-proxy %s: relay ended: %s\n", a->name,
				st.message[0] ? st.message : osh_rpc_status_name(st.code));
			break;
		}
		d = (const void *)m;
		if (!write_all(1, d->data.data, d->data.len)) {
			ret = OSH_CLI_EXIT_OK; /* our reader went away (ssh exited) */
			break;
		}
		osh_rpc_msg_free(m);
		m = NULL;
	}
out:
	osh_rpc_msg_free(m);
	osh_rpc_sstream_destroy(ss);
	/* The upward thread may sit in read(0): the process exits with it. */
	if (started)
		pthread_detach(th);
	return ret;
}

/* ---------------------------------------------------------- known hosts -- */

static int config_dir(char *out, size_t cap)
{
	const char *d = getenv("OPENSHELL_CONFIG_DIR");
	const char *x = getenv("XDG_CONFIG_HOME");
	const char *h = getenv("HOME");
	int n;

	if (d && d[0] == '/')
		n = snprintf(out, cap, "%s", d);
	else if (x && x[0] == '/')
		n = snprintf(out, cap, "%s/openshell", x);
	else if (h && h[0] == '/')
		n = snprintf(out, cap, "%s/.config/openshell", h);
	else
		return OSH_ENOTFOUND;
	return n > 0 && (size_t)n < cap ? 0 : OSH_ETOOBIG;
}

static int mkdirs(char *path)
{
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0700) != 0 && errno != EEXIST) {
			*p = '/';
			return OSH_ESYS;
		}
		*p = '/';
	}
	return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : OSH_ESYS;
}

/* Writes "openshell-NAME KEY" into <config>/known_hosts, replacing an older
 * line for the alias; the file's path into out. */
static int pin_host_key(const char *name, const char *key, char *out, size_t cap, FILE *err)
{
	char dir[PATH_MAX - 16], tmp[PATH_MAX + 8], alias[96], line[1024];
	FILE *in = NULL, *o = NULL;
	int fd = -1, rc = config_dir(dir, sizeof(dir));
	size_t al;

	if (rc) {
		fprintf(err, "openshell: cannot find a config directory (set HOME or "
			     "OPENSHELL_CONFIG_DIR)\n");
		goto out;
	}
	rc = mkdirs(dir);
	if (rc) {
		fprintf(err, "openshell: %s: %s\n", dir, strerror(errno));
		goto out;
	}
	if (snprintf(out, cap, "%s/known_hosts", dir) >= (int)cap ||
	    snprintf(tmp, sizeof(tmp), "%s.tmp", out) >= (int)sizeof(tmp)) {
		rc = OSH_ETOOBIG;
		fprintf(err, "openshell: %s: path too long\n", dir);
		goto out;
	}
	snprintf(alias, sizeof(alias), "openshell-%s ", name);
	al = strlen(alias);
	rc = OSH_ESYS;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
	o = fd >= 0 ? fdopen(fd, "w") : NULL;
	if (!o) {
		fprintf(err, "openshell: %s: %s\n", tmp, strerror(errno));
		goto out;
	}
	fd = -1;
	in = fopen(out, "re");
	while (in && fgets(line, sizeof(line), in))
		if (strncmp(line, alias, al) != 0)
			fputs(line, o);
	fprintf(o, "%s%s\n", alias, key);
	if (fclose(o) != 0 || rename(tmp, out) != 0) {
		o = NULL;
		fprintf(err, "openshell: %s: %s\n", out, strerror(errno));
		goto out;
	}
	o = NULL;
	rc = 0;
out:
	if (in)
		fclose(in);
	if (o)
		fclose(o);
	if (fd >= 0)
		close(fd);
	return rc;
}

/* The sandbox's host key (heap) from ListSandboxes, or NULL (reported). */
static char *host_key_of(struct osh_rpc_client *c, const char *name, FILE *err, int *ret)
{
	void **pages = NULL;
	size_t n_pages = 0;
	struct osh_rpc_status st;
	char *key = NULL;
	bool found = false;

	memset(&st, 0, sizeof(st));
	*ret = OSH_CLI_EXIT_FAIL;
	if (cli_list_all(c, &pages, &n_pages, &st) != OSH_OK) {
		fprintf(err, "openshell: %s\n",
			st.message[0] ? st.message : "cannot list sandboxes");
		*ret =
		    st.code == OSH_RPC_UNAVAILABLE ? OSH_CLI_EXIT_UNREACHABLE : OSH_CLI_EXIT_FAIL;
		goto out;
	}
	for (size_t p = 0; p < n_pages && !found; p++) {
		const Openshell__V1__ListSandboxesResponse *r = pages[p];

		for (size_t i = 0; i < r->n_sandboxes && !found; i++) {
			const Openshell__V1__Sandbox *s = r->sandboxes[i];

			if (strcmp(s->name, name) != 0)
				continue;
			found = true;
			if (!s->ssh_host_key || strncmp(s->ssh_host_key, "ssh-ed25519 ", 12) != 0)
				fprintf(err,
					"openshell: sandbox %s has no SSH server (not running, or "
					"its supervisor has not reported one yet)\n",
					name);
			else
				key = strdup(s->ssh_host_key);
		}
	}
	if (!found)
		fprintf(err, "openshell: no sandbox with name '%s'\n", name);
out:
	for (size_t p = 0; p < n_pages; p++)
		osh_rpc_msg_free(pages[p]);
	free(pages);
	if (key)
		*ret = OSH_CLI_EXIT_OK;
	return key;
}

/* ' quoted for a POSIX shell. */
static void shq(FILE *o, const char *s)
{
	fputc('\'', o);
	for (; *s; s++) {
		if (*s == '\'')
			fputs("'\\''", o);
		else
			fputc(*s, o);
	}
	fputc('\'', o);
}

static char *proxy_command(const struct osh_cli_args *a, const char *self)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *o = open_memstream(&buf, &len);

	if (!o)
		return NULL;
	shq(o, self);
	if (a->gateway_explicit) {
		fputs(" --gateway ", o);
		shq(o, a->gateway);
	}
	fputs(" sandbox ssh-proxy ", o);
	shq(o, a->name);
	if (fclose(o) != 0) {
		free(buf);
		buf = NULL;
	}
	return buf;
}

static int ssh_config(const struct osh_cli_args *a, struct osh_rpc_client *c, const char *self,
		      FILE *out, FILE *err)
{
	char kh[PATH_MAX];
	int ret;
	char *key = host_key_of(c, a->name, err, &ret);
	char *pc = NULL;

	if (!key)
		goto out;
	ret = OSH_CLI_EXIT_FAIL;
	if (pin_host_key(a->name, key, kh, sizeof(kh), err) != 0)
		goto out;
	pc = proxy_command(a, self);
	if (!pc)
		goto out;
	fprintf(out,
		"Host openshell-%s\n"
		"    HostName openshell-%s\n"
		"    User " HOST_USER "\n"
		"    ProxyCommand %s\n"
		"    HostKeyAlias openshell-%s\n"
		"    UserKnownHostsFile %s\n"
		"    GlobalKnownHostsFile /dev/null\n"
		"    StrictHostKeyChecking yes\n"
		"    PubkeyAuthentication no\n"
		"    PasswordAuthentication no\n"
		"    KbdInteractiveAuthentication no\n"
		"    GSSAPIAuthentication no\n"
		"    LogLevel ERROR\n",
		a->name, a->name, pc, a->name, kh);
	ret = OSH_CLI_EXIT_OK;
out:
	free(pc);
	free(key);
	return ret;
}

/* exec / connect: run OpenSSH with the pinned key and our ProxyCommand. */
static int ssh_run(const struct osh_cli_args *a, struct osh_rpc_client *c, const char *self,
		   FILE *err)
{
	char kh[PATH_MAX], o_kh[PATH_MAX + 32], o_alias[160], host[160];
	char *o_pc = NULL, *remote = NULL, *pc = NULL;
	const char *argv[40 + 1];
	int n = 0, ret;
	char *key = host_key_of(c, a->name, err, &ret);

	if (!key)
		goto out;
	ret = OSH_CLI_EXIT_FAIL;
	if (pin_host_key(a->name, key, kh, sizeof(kh), err) != 0)
		goto out;
	pc = proxy_command(a, self);
	if (!pc || asprintf(&o_pc, "ProxyCommand=%s", pc) < 0) {
		o_pc = NULL;
		goto out;
	}
	snprintf(o_kh, sizeof(o_kh), "UserKnownHostsFile=%s", kh);
	snprintf(o_alias, sizeof(o_alias), "HostKeyAlias=openshell-%s", a->name);
	snprintf(host, sizeof(host), HOST_USER "@openshell-%s", a->name);
	argv[n++] = SSH_PROG;
	argv[n++] = "-F";
	argv[n++] = "/dev/null";
	argv[n++] = a->cmd == OSH_CLI_SANDBOX_CONNECT ? "-t" : "-T";
	argv[n++] = "-q";
	static const char *const opts[] = {"StrictHostKeyChecking=yes",
					   "GlobalKnownHostsFile=/dev/null",
					   "PubkeyAuthentication=no",
					   "PasswordAuthentication=no",
					   "KbdInteractiveAuthentication=no",
					   "GSSAPIAuthentication=no",
					   "BatchMode=yes",
					   "LogLevel=ERROR"};
	for (size_t i = 0; i < sizeof(opts) / sizeof(opts[0]); i++) {
		argv[n++] = "-o";
		argv[n++] = opts[i];
	}
	argv[n++] = "-o";
	argv[n++] = o_pc;
	argv[n++] = "-o";
	argv[n++] = o_kh;
	argv[n++] = "-o";
	argv[n++] = o_alias;
	argv[n++] = host;
	if (a->cmd == OSH_CLI_SANDBOX_EXEC) {
		/* one remote command line: the words quoted for the sandbox's shell */
		size_t len = 0;
		FILE *o = open_memstream(&remote, &len);

		if (!o)
			goto out;
		for (int i = 0; i < a->n_command; i++) {
			if (i)
				fputc(' ', o);
			shq(o, a->command[i]);
		}
		if (fclose(o) != 0)
			goto out;
		argv[n++] = "--";
		argv[n++] = remote;
	}
	argv[n] = NULL;
	fflush(NULL);
	execvp(SSH_PROG, (char *const *)(uintptr_t)argv);
	fprintf(err, "openshell: cannot run %s (Debian package openssh-client): %s\n", SSH_PROG,
		strerror(errno));
	ret = 127;
out:
	free(remote);
	free(o_pc);
	free(pc);
	free(key);
	return ret;
}

int cli_ssh_run(const struct osh_cli_args *a, struct osh_rpc_client *c, const char *self_exe,
		FILE *out, FILE *err)
{
	char self[PATH_MAX];
	ssize_t n;

	if (a->cmd == OSH_CLI_SANDBOX_SSH_PROXY)
		return ssh_proxy(a, c, err);
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0)
		self[n] = '\0';
	else
		snprintf(self, sizeof(self), "%s", self_exe ? self_exe : "openshell");
	if (a->cmd == OSH_CLI_SANDBOX_SSH_CONFIG)
		return ssh_config(a, c, self, out, err);
	return ssh_run(a, c, self, err);
}
