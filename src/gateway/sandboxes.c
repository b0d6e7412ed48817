/* sandboxes.c - see sandboxes.h. */
#include "sandboxes.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

extern char **environ;

/* A pipe holding `len` bytes of `text` (then EOF), its read end at an fd of
 * at least 5 so the spawn's dup2 onto 3 and 4 never overwrites the other
 * one; *rd is that end (close-on-exec), -1 on error. The text fits the pipe
 * buffer, so writing never blocks. */
static int text_pipe(const char *text, size_t len, int *rd)
{
	int p[2] = {-1, -1};
	int rc = OSH_ESYS;

	*rd = -1;
	if (pipe2(p, O_CLOEXEC) != 0)
		goto out;
	if (write(p[1], text, len) != (ssize_t)len)
		goto out;
	*rd = fcntl(p[0], F_DUPFD_CLOEXEC, 5);
	rc = *rd >= 0 ? 0 : OSH_ESYS;
out:
	if (p[0] >= 0)
		close(p[0]);
	if (p[1] >= 0)
		close(p[1]);
	return rc;
}

int osh_gw_spawn_sandbox(const struct osh_gw_spawn *sp, pid_t *pid, char *err, size_t errlen)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none, dflt;
	const char **argv = NULL;
	size_t n = 0, cap;
	bool fa_ok = false, at_ok = false;
	int rc = OSH_ENOMEM, e;
	int boot_rd = -1, sec_rd = -1;
	char bootstrap[PATH_MAX + 256];
	int bn;
	char **envp = environ;
	char **own_env = NULL;

	if (access(sp->bin, X_OK) != 0) {
		snprintf(err, errlen, "supervisor binary %s: %s", sp->bin, strerror(errno));
		rc = OSH_ENOTFOUND;
		goto out;
	}
	cap = 12 + 2 * sp->n_env + sp->n_command + 1;
	argv = calloc(cap, sizeof(*argv));
	if (!argv)
		goto out;
	/* The gateway address and the sandbox credential travel on an inherited
	 * pipe (fd 3, read once and closed by the supervisor), never in argv
	 * (/proc/PID/cmdline is world-readable) or the environment. */
	bn = snprintf(bootstrap, sizeof(bootstrap), "gateway=%s\ncredential=%s\n%s%s%s",
		      sp->gateway, sp->secret ? sp->secret : "", sp->ssh_secret ? "ssh=" : "",
		      sp->ssh_secret ? sp->ssh_secret : "", sp->ssh_secret ? "\n" : "");
	if (bn < 0 || (size_t)bn >= sizeof(bootstrap) ||
	    text_pipe(bootstrap, (size_t)bn, &boot_rd) != 0) {
		snprintf(err, errlen, "cannot hand over the bootstrap: %s", strerror(errno));
		rc = OSH_ESYS;
		goto out;
	}
	argv[n++] = sp->bin;
	argv[n++] = "--bootstrap-fd";
	argv[n++] = "3";
	argv[n++] = "--sandbox-id";
	argv[n++] = sp->id;
	argv[n++] = "--sandbox-name";
	argv[n++] = sp->name;
	argv[n++] = "--log-dir";
	argv[n++] = sp->log_dir;
	for (size_t i = 0; i < sp->n_env; i++) {
		argv[n++] = "--env";
		argv[n++] = sp->env[i];
	}
	argv[n++] = "--";
	for (size_t i = 0; i < sp->n_command; i++)
		argv[n++] = sp->command[i];
	argv[n] = NULL;

	if (posix_spawn_file_actions_init(&fa) != 0)
		goto out;
	fa_ok = true;
	if (posix_spawnattr_init(&at) != 0)
		goto out;
	at_ok = true;
	if (sp->secrets && sp->secrets_len) {
		if (sp->secrets_len > OSH_GW_SECRETS_MAX) {
			snprintf(err, errlen, "secrets: more than %d bytes", OSH_GW_SECRETS_MAX);
			rc = OSH_ETOOBIG;
			goto out;
		}
		/* The whole text fits the pipe buffer: written now, read by the
		 * supervisor at start-up (fd 4), never on disk, argv or environment. */
		if (text_pipe(sp->secrets, sp->secrets_len, &sec_rd) != 0) {
			snprintf(err, errlen, "secrets: pipe: %s", strerror(errno));
			rc = OSH_ESYS;
			goto out;
		}
	}
	/* OPENSHELL_SECRETS_FD is ours to set: never inherited from the
	 * gateway's own environment (it would name a descriptor closed below). */
	if (sec_rd >= 0 || getenv("OPENSHELL_SECRETS_FD")) {
		size_t ne = 0, j = 0;

		while (environ[ne])
			ne++;
		own_env = calloc(ne + 2, sizeof(*own_env));
		if (!own_env)
			goto out;
		for (size_t i = 0; i < ne; i++)
			if (strncmp(environ[i], "OPENSHELL_SECRETS_FD=", 21) != 0)
				own_env[j++] = environ[i];
		if (sec_rd >= 0)
			own_env[j] = (char *)(uintptr_t) "OPENSHELL_SECRETS_FD=4";
		envp = own_env;
	}
	if (posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(
		&fa, 1, sp->out_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640) != 0 ||
	    posix_spawn_file_actions_addopen(
		&fa, 2, sp->err_path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW, 0640) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, boot_rd, 3) != 0 ||
	    (sec_rd >= 0 && posix_spawn_file_actions_adddup2(&fa, sec_rd, 4) != 0) ||
	    posix_spawn_file_actions_addclosefrom_np(&fa, sec_rd >= 0 ? 5 : 4) != 0)
		goto out;
	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGHUP);
	sigaddset(&dflt, SIGINT);
	sigaddset(&dflt, SIGTERM);
	sigaddset(&dflt, SIGCHLD);
	sigaddset(&dflt, SIGPIPE);
	sigaddset(&dflt, SIGQUIT);
	if (posix_spawnattr_setsigmask(&at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&at, &dflt) != 0 ||
	    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					      POSIX_SPAWN_SETSID) != 0)
		goto out;
	/* posix_spawn's argv is char *const[]; the strings are not modified. */
	e = posix_spawn(pid, sp->bin, &fa, &at, (char *const *)(void *)argv, envp);
	if (e != 0) {
		snprintf(err, errlen, "cannot start %s: %s", sp->bin, strerror(e));
		rc = OSH_ESYS;
		goto out;
	}
	rc = 0;
out:
	if (rc == OSH_ENOMEM)
		snprintf(err, errlen, "out of memory starting the supervisor");
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (at_ok)
		posix_spawnattr_destroy(&at);
	if (boot_rd >= 0)
		close(boot_rd);
	if (sec_rd >= 0)
		close(sec_rd);
	free(own_env);
	free(argv);
	explicit_bzero(bootstrap, sizeof(bootstrap));
	return rc;
}

bool osh_gw_pid_runs_sandbox(pid_t pid, const char *id)
{
	char path[64], buf[8192];
	bool found = false;
	ssize_t n;
	int fd;

	if (pid <= 0)
		return false;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	for (ssize_t i = 0; i < n && !found;) {
		const char *arg = buf + i;
		size_t len = strlen(arg);

		if (strcmp(arg, "--sandbox-id") == 0 && i + (ssize_t)len + 1 < n)
			found = strcmp(arg + len + 1, id) == 0;
		i += (ssize_t)len + 1;
	}
	return found;
}

int osh_gw_exe_dir(char *buf, size_t cap)
{
	char *slash;
	ssize_t n;

	if (cap < 2)
		return OSH_ETOOBIG;
	n = readlink("/proc/self/exe", buf, cap - 1);
	if (n < 0)
		return OSH_ESYS;
	if ((size_t)n >= cap - 1)
		return OSH_ETOOBIG;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (slash)
		*(slash == buf ? slash + 1 : slash) = '\0';
	return 0;
}

int osh_gw_mkdirs(const char *path, unsigned mode)
{
	char tmp[PATH_MAX];
	size_t len = strlen(path);
	int rc = 0;

	if (len == 0 || len >= sizeof(tmp))
		return OSH_ETOOBIG;
	memcpy(tmp, path, len + 1);
	for (char *p = tmp + 1; rc == 0; p++) {
		bool end = *p == '\0';

		if (*p != '/' && !end)
			continue;
		*p = '\0';
		if (mkdir(tmp, (mode_t)mode) != 0 && errno != EEXIST)
			rc = OSH_ESYS;
		if (end)
			break;
		*p = '/';
	}
	return rc;
}

/* mkdir name under dirfd `at` (existing is fine) and open it, refusing a
 * symlink or a non-directory in its place. */
static int subdir(int at, const char *shown, const char *name, int *out, char *err, size_t errlen)
{
	int fd;

	*out = -1;
	if (mkdirat(at, name, 0750) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", shown, strerror(errno));
		return OSH_ESYS;
	}
	fd = openat(at, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 && (errno == ELOOP || errno == ENOTDIR)) {
		snprintf(err, errlen, "%s is a symlink or not a directory: refused", shown);
		return OSH_EPERM;
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s: %s", shown, strerror(errno));
		return OSH_ESYS;
	}
	*out = fd;
	return 0;
}

int osh_gw_sandbox_dirs(const char *sandboxes_dir, const char *name, bool logs, char *err,
			size_t errlen)
{
	static const char *const files[] = {"supervisor.stdout", "supervisor.stderr"};
	char shown[PATH_MAX + 96];
	int base, sd = -1, ld = -1, rc = OSH_ESYS;

	base = open(sandboxes_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (base < 0) {
		snprintf(err, errlen, "cannot open %s: %s", sandboxes_dir, strerror(errno));
		goto out;
	}
	snprintf(shown, sizeof(shown), "%s/%s", sandboxes_dir, name);
	rc = subdir(base, shown, name, &sd, err, errlen);
	if (rc == 0 && logs) {
		snprintf(shown, sizeof(shown), "%s/%s/logs", sandboxes_dir, name);
		rc = subdir(sd, shown, "logs", &ld, err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < sizeof(files) / sizeof(files[0]); i++) {
		int fd = openat(sd, files[i],
				O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0640);

		if (fd < 0) {
			snprintf(err, errlen, "%s/%s/%s: %s", sandboxes_dir, name, files[i],
				 errno == ELOOP ? "is a symlink: refused" : strerror(errno));
			rc = errno == ELOOP ? OSH_EPERM : OSH_ESYS;
		} else {
			close(fd);
		}
	}
out:
	if (ld >= 0)
		close(ld);
	if (sd >= 0)
		close(sd);
	if (base >= 0)
		close(base);
	return rc;
}

int osh_gw_uuid(char out[37])
{
	unsigned char b[16];
	size_t got = 0;

	while (got < sizeof(b)) {
		ssize_t n = getrandom(b + got, sizeof(b) - got, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return OSH_ESYS;
		}
		got += (size_t)n;
	}
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		 b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12],
		 b[13], b[14], b[15]);
	return 0;
}

int osh_gw_page_token_parse(const char *token, int64_t *after)
{
	int64_t v = 0;
	size_t n = token ? strlen(token) : 0;
	int rc = 0;

	*after = 0;
	if (n == 0)
		goto out;
	if (n > 18 || token[0] < '1' || token[0] > '9') {
		rc = OSH_EINVAL;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (token[i] < '0' || token[i] > '9') {
			rc = OSH_EINVAL;
			goto out;
		}
		v = v * 10 + (token[i] - '0'); /* 18 digits never overflow int64 */
	}
	*after = v;
out:
	return rc;
}

bool osh_gw_name_valid(const char *name, char *err, size_t errlen)
{
	size_t len = name ? strlen(name) : 0;
	bool ok = true;

	if (len == 0 || len > 63) {
		snprintf(err, errlen, "sandbox name must be 1 to 63 characters");
		ok = false;
	} else if (name[0] == '.' || name[0] == '-') {
		snprintf(err, errlen, "sandbox name '%s' must not start with '.' or '-'", name);
		ok = false;
	}
	for (size_t i = 0; ok && i < len; i++) {
		char c = name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-')) {
			snprintf(
			    err, errlen,
			    "sandbox name '%s': only letters, digits, '.', '_' and '-' are allowed",
			    name);
			ok = false;
		}
	}
	return ok;
}

/* Append "<sep><name>[<idx>]" to path (truncating quietly: it is a message). */
static void path_push(char *path, size_t cap, const char *name, bool indexed, size_t idx)
{
	size_t n = strlen(path);

	if (n >= cap)
		return;
	if (indexed)
		snprintf(path + n, cap - n, "%s%s[%zu]", n ? "." : "", name, idx);
	else
		snprintf(path + n, cap - n, "%s%s", n ? "." : "", name);
}

static bool unknown_walk(const ProtobufCMessage *m, char *where, size_t wlen)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	size_t mark = strlen(where);

	if (m->n_unknown_fields > 0) {
		size_t n = strlen(where);

		if (n < wlen)
			snprintf(where + n, wlen - n, "%sfield number %u (wire type %d)",
				 n ? ": " : "", (unsigned)m->unknown_fields[0].tag,
				 (int)m->unknown_fields[0].wire_type);
		return true;
	}
	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const char *base = (const char *)m;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t cnt = *(const size_t *)(const void *)(base + f->quantifier_offset);
			const ProtobufCMessage *const *arr = *(
			    const ProtobufCMessage *const *const *)(const void *)(base + f->offset);

			for (size_t k = 0; k < cnt; k++) {
				if (!arr[k])
					continue;
				path_push(where, wlen, f->name, true, k);
				if (unknown_walk(arr[k], where, wlen))
					return true;
				where[mark < wlen ? mark : wlen - 1] = '\0';
			}
		} else {
			const ProtobufCMessage *sub =
			    *(const ProtobufCMessage *const *)(const void *)(base + f->offset);

			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)(const void *)(base + f->quantifier_offset) != f->id)
				continue; /* another member of the oneof is set */
			if (!sub)
				continue;
			path_push(where, wlen, f->name, false, 0);
			if (unknown_walk(sub, where, wlen))
				return true;
			where[mark < wlen ? mark : wlen - 1] = '\0';
		}
	}
	return false;
}

bool osh_gw_msg_unknown_field(const ProtobufCMessage *m, char *where, size_t wlen)
{
	char tmp[8];

	if (wlen == 0) {
		where = tmp;
		wlen = sizeof(tmp);
	}
	snprintf(where, wlen, "%s", m->descriptor->short_name);
	return unknown_walk(m, where, wlen);
}

/* True when some component of the absolute path p is "." or "..". */
static bool has_dot_component(const char *p)
{
	for (const char *c = p; *c;) {
		const char *e;
		size_t n;

		while (*c == '/')
			c++;
		e = strchr(c, '/');
		n = e ? (size_t)(e - c) : strlen(c);
		if ((n == 1 && c[0] == '.') || (n == 2 && c[0] == '.' && c[1] == '.'))
			return true;
		c += n;
	}
	return false;
}

int osh_gw_log_dir_resolve(const char *sandboxes_dir, const char *name, const char *req, char *out,
			   size_t cap, char *err, size_t errlen)
{
	char base[PATH_MAX], head[PATH_MAX], real[PATH_MAX];
	const char *rule =
	    "log_dir must be empty or a directory under <data-dir>/sandboxes/<name>/";
	size_t len = strlen(req), cut;
	int rc = OSH_EINVAL;

	if (req[0] != '/') {
		snprintf(err, errlen, "%s; got the relative path '%s'", rule, req);
		goto out;
	}
	if (has_dot_component(req)) {
		snprintf(err, errlen, "%s; '%s' has a '.' or '..' component", rule, req);
		goto out;
	}
	if (len >= sizeof(head)) {
		snprintf(err, errlen, "log_dir is longer than %d bytes", PATH_MAX - 1);
		goto out;
	}
	if (!realpath(sandboxes_dir, base) ||
	    snprintf(real, sizeof(real), "%s/%s", base, name) >= (int)sizeof(real)) {
		snprintf(err, errlen, "cannot resolve the sandboxes directory %s: %s",
			 sandboxes_dir, strerror(errno));
		rc = OSH_ESYS;
		goto out;
	}
	memcpy(base, real, strlen(real) + 1); /* base = <canonical sandboxes>/<name> */
	/* Canonicalise the deepest existing ancestor (resolving every symlink
	 * in it); the rest does not exist yet, so it holds no symlink and, by
	 * the check above, no '..'. */
	memcpy(head, req, len + 1);
	cut = len;
	for (;;) {
		if (realpath(head, real))
			break;
		if (errno != ENOENT && errno != ENOTDIR) {
			snprintf(err, errlen, "log_dir '%s': %s", req, strerror(errno));
			goto out;
		}
		while (cut > 0 && head[cut - 1] == '/')
			cut--;
		while (cut > 0 && head[cut - 1] != '/')
			cut--;
		if (cut <= 1) {
			memcpy(head, "/", 2);
			cut = 1;
		} else {
			head[cut - 1] = '\0';
		}
	}
	{
		size_t rl = strlen(real), bl = strlen(base);
		const char *rest = req + cut;

		while (*rest == '/')
			rest++;
		if (snprintf(out, cap, "%s%s%s", real, (*rest && real[rl - 1] != '/') ? "/" : "",
			     rest) >= (int)cap) {
			snprintf(err, errlen, "log_dir is too long once resolved");
			goto out;
		}
		/* collapse duplicate slashes in the part that does not exist yet */
		for (char *r = out, *w = out;; r++) {
			if (!(*r == '/' && w > out && w[-1] == '/'))
				*w++ = *r;
			if (!*r)
				break;
		}
		rl = strlen(out);
		while (rl > 1 && out[rl - 1] == '/')
			out[--rl] = '\0';
		if (strncmp(out, base, bl) != 0 || (out[bl] != '\0' && out[bl] != '/')) {
			snprintf(err, errlen, "%s; '%s' resolves to '%s'", rule, req, out);
			out[0] = '\0';
			goto out;
		}
	}
	rc = 0;
out:
	return rc;
}
