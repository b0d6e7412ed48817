/* test_rpc_listen.c - the "unix:" listener of osh_rpc servers, for real.
 *
 * DESIGN: each Criterion test is its own process with its own server on a
 * socket in a fresh temporary directory. Raw connections that hold fds are
 * opened by a forked child (its own fd table), so the server process can be
 * run out of fds with a low RLIMIT_NOFILE while the test itself still has
 * the few fds it needs. Every wait polls a condition with a deadline. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "osh_rpc.h"
#include "sandbox.pb-c.h"

#define SVC (&openshell__v1__open_shell__descriptor)

static char dir[64], sock[100], target[110];
static atomic_int refused_peer, refused_limit, refused_fds, authz_calls;
static atomic_int deny_all;

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void h_get_config(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	Openshell__V1__GetConfigResponse resp = OPENSHELL__V1__GET_CONFIG_RESPONSE__INIT;

	(void)m;
	(void)ud;
	resp.config_revision = 7;
	osh_rpc_call_reply(call, &resp.base);
}

static bool check(const struct osh_rpc_peer *p, void *ud)
{
	(void)ud;
	return !atomic_load(&deny_all) && p->uid == getuid() && p->pid > 0;
}

static void on_refuse(const struct osh_rpc_peer *p, int why, void *ud)
{
	(void)p;
	(void)ud;
	if (why == OSH_RPC_REFUSE_PEER)
		atomic_fetch_add(&refused_peer, 1);
	else if (why == OSH_RPC_REFUSE_CONN_LIMIT)
		atomic_fetch_add(&refused_limit, 1);
	else if (why == OSH_RPC_REFUSE_NO_FDS)
		atomic_fetch_add(&refused_fds, 1);
}

static int authz(struct osh_rpc_call *call, const ProtobufCMessage *m, void *ud)
{
	const Openshell__V1__GetConfigRequest *req = (const void *)m;
	const char *who = osh_rpc_call_metadata(call, "x-who");

	(void)ud;
	atomic_fetch_add(&authz_calls, 1);
	if (strcmp(req->key, "secret") == 0 && (who == NULL || strcmp(who, "me") != 0)) {
		osh_rpc_call_fail(call, OSH_RPC_UNAUTHENTICATED, "who are you");
		return -1;
	}
	return 0;
}

static struct osh_rpc_server *start(size_t max_conns, unsigned idle_ms)
{
	struct osh_rpc_server *s = NULL;
	struct osh_rpc_server_opts o = {.service = SVC,
					.listen = target,
					.peer_check = check,
					.on_refuse = on_refuse,
					.max_conns = max_conns,
					.idle_ms = idle_ms,
					.authz = authz};
	struct osh_rpc_method m = {
	    .name = "GetConfig", .kind = OSH_RPC_UNARY, .handler = h_get_config};
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/osh-listen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/gw.sock", dir);
	snprintf(target, sizeof(target), "unix:%s", sock);
	cr_assert_eq(osh_rpc_server_create(&o, &s), 0);
	cr_assert_eq(osh_rpc_server_add_method(s, &m), 0);
	cr_assert_eq(osh_rpc_server_start(s), 0, "%s", osh_rpc_server_error(s));
	cr_assert_eq(osh_rpc_server_spawn(s), 0);
	return s;
}

static void stop(struct osh_rpc_server *s)
{
	osh_rpc_server_destroy(s);
	cr_expect_eq(access(sock, F_OK), -1, "socket file left behind");
	rmdir(dir);
}

static int get(const char *key, const char *who, struct osh_rpc_status *st)
{
	struct osh_rpc_client *c = NULL;
	Openshell__V1__GetConfigRequest req = OPENSHELL__V1__GET_CONFIG_REQUEST__INIT;
	struct osh_rpc_md md[] = {{"x-who", who}};
	struct osh_rpc_call_opts o = {.timeout_ms = 3000, .md = md, .n_md = who ? 1 : 0};
	ProtobufCMessage *resp = NULL;
	int rc;

	cr_assert_eq(osh_rpc_client_create(target, SVC, NULL, &c), 0);
	req.key = OSH_RPC_STR(key);
	rc = osh_rpc_client_unary(c, "GetConfig", &req.base, &o, &resp, st);
	if (rc == 0)
		cr_expect_eq(((Openshell__V1__GetConfigResponse *)resp)->config_revision, 7);
	osh_rpc_msg_free(resp);
	osh_rpc_client_destroy(c);
	return rc;
}

/* Retry a call until it succeeds or the deadline passes. */
static bool get_ok_within(int ms)
{
	int64_t end = now_ms() + ms;
	struct osh_rpc_status st;

	while (now_ms() < end) {
		if (get("k", NULL, &st) == 0)
			return true;
		usleep(50000);
	}
	return false;
}

static bool wait_ge(atomic_int *v, int want, int ms)
{
	int64_t end = now_ms() + ms;

	while (atomic_load(v) < want && now_ms() < end)
		usleep(5000);
	return atomic_load(v) >= want;
}

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A child that opens n raw connections, says so on `ready`, and holds them
 * until its stdin-side pipe `hold` closes. */
static pid_t holder(int n, int *ready_rd, int *hold_wr)
{
	int ready[2], hold[2];
	pid_t pid;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(hold), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		char c = 0;
		int opened = 0;

		struct rlimit rl;

		close(ready[0]);
		close(hold[1]);
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
			rl.rlim_cur = rl.rlim_max;
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		for (int i = 0; i < n; i++)
			opened += raw_connect() >= 0;
		if (write(ready[1], &opened, sizeof(opened)) != (ssize_t)sizeof(opened))
			_exit(1);
		if (read(hold[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(hold[0]);
	*ready_rd = ready[0];
	*hold_wr = hold[1];
	return pid;
}

static void release(pid_t pid, int ready_rd, int hold_wr)
{
	int status = 0;

	close(hold_wr);
	close(ready_rd);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

Test(rpc_listen, unix_socket_serves_an_admitted_peer_with_mode_0660)
{
	struct osh_rpc_server *s = start(0, 0);
	struct osh_rpc_status st;
	struct stat sb;
	struct osh_rpc_listen_stats ls;

	cr_assert_eq(stat(sock, &sb), 0);
	cr_expect(S_ISSOCK(sb.st_mode));
	cr_expect_eq(sb.st_mode & 07777, 0660, "mode %o", sb.st_mode & 07777);
	cr_assert_eq(get("k", NULL, &st), 0, "%d %s", st.code, st.message);
	osh_rpc_server_listen_stats(s, &ls);
	cr_expect_geq(ls.accepted, 1);
	cr_expect_eq(ls.refused, 0);
	stop(s);
}

Test(rpc_listen, refused_peer_never_reaches_grpc)
{
	struct osh_rpc_server *s = start(0, 0);
	struct osh_rpc_status st;

	atomic_store(&deny_all, 1);
	cr_assert_neq(get("k", NULL, &st), 0);
	cr_expect_eq(st.code, OSH_RPC_UNAVAILABLE, "%d %s", st.code, st.message);
	cr_expect(wait_ge(&refused_peer, 1, 2000));
	cr_expect_eq(atomic_load(&authz_calls), 0, "a refused peer reached a handler");
	atomic_store(&deny_all, 0);
	cr_expect(get_ok_within(5000));
	stop(s);
}

Test(rpc_listen, authz_hook_refuses_with_its_status_and_skips_the_handler)
{
	struct osh_rpc_server *s = start(0, 0);
	struct osh_rpc_status st;

	cr_assert_neq(get("secret", NULL, &st), 0);
	cr_expect_eq(st.code, OSH_RPC_UNAUTHENTICATED, "%d %s", st.code, st.message);
	cr_expect(strstr(st.message, "who are you") != NULL, "%s", st.message);
	cr_assert_eq(get("secret", "me", &st), 0, "%d %s", st.code, st.message);
	stop(s);
}

Test(rpc_listen, identity_metadata_goes_with_every_call)
{
	struct osh_rpc_server *s = start(0, 0);
	struct osh_rpc_status st;

	cr_assert_eq(osh_rpc_client_set_identity("x-who", "me"), 0);
	cr_assert_eq(get("secret", NULL, &st), 0, "%d %s", st.code, st.message);
	cr_assert_eq(osh_rpc_client_set_identity(NULL, NULL), 0);
	cr_assert_neq(get("secret", NULL, &st), 0);
	cr_expect_eq(osh_rpc_client_set_identity("Bad Key", "v"), OSH_EINVAL);
	stop(s);
}

Test(rpc_listen, connections_beyond_the_cap_are_refused_then_served_again)
{
	struct osh_rpc_server *s = start(4, 0);
	int rd, wr, opened = 0;
	pid_t pid = holder(10, &rd, &wr);

	cr_assert_eq(read(rd, &opened, sizeof(opened)), (ssize_t)sizeof(opened));
	cr_expect_eq(opened, 10);
	cr_expect(wait_ge(&refused_limit, 6, 5000), "over-limit refusals: %d",
		  atomic_load(&refused_limit));
	release(pid, rd, wr);
	cr_expect(get_ok_within(10000), "no recovery after the holder closed its connections");
	stop(s);
}

Test(rpc_listen, survives_fd_exhaustion_and_recovers, .timeout = 60)
{
	struct rlimit rl;
	struct osh_rpc_server *s;
	int rd, wr, opened = 0;
	pid_t pid;

	/* Low soft limit for this test process (the server); the holder child
	 * raises its own back to the hard limit. */
	cr_assert_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
	cr_assert_geq(rl.rlim_max, 400);
	rl.rlim_cur = 48;
	cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
	s = start(4096, 0);
	cr_assert(get_ok_within(5000));
	pid = holder(300, &rd, &wr);
	cr_assert_eq(read(rd, &opened, sizeof(opened)), (ssize_t)sizeof(opened));
	cr_expect(wait_ge(&refused_fds, 1, 10000), "the listener never hit EMFILE (%d open)",
		  opened);
	release(pid, rd, wr);
	cr_expect(get_ok_within(20000), "the listener did not recover after fd exhaustion");
	stop(s);
}

Test(rpc_listen, a_silent_connection_is_closed_after_the_idle_time)
{
	struct osh_rpc_server *s = start(0, 300);
	int fd = raw_connect();
	char buf[256];
	int64_t end = now_ms() + 10000;
	bool closed = false;

	cr_assert_geq(fd, 0);
	cr_assert_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	while (!closed && now_ms() < end) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
			closed = true;
		else
			usleep(20000);
	}
	close(fd);
	cr_expect(closed, "the server kept a silent connection open for 10 s");
	stop(s);
}

Test(rpc_listen, a_non_socket_at_the_path_is_an_error)
{
	struct osh_rpc_server *s = NULL;
	struct osh_rpc_server_opts o = {.service = SVC, .listen = target};
	const char *tmp = getenv("TMPDIR");
	int fd;

	snprintf(dir, sizeof(dir), "%s/osh-listen-XXXXXX", tmp && *tmp ? tmp : "/tmp");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(sock, sizeof(sock), "%s/gw.sock", dir);
	snprintf(target, sizeof(target), "unix:%s", sock);
	fd = open(sock, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	cr_assert_geq(fd, 0);
	close(fd);
	cr_assert_eq(osh_rpc_server_create(&o, &s), 0);
	cr_expect_eq(osh_rpc_server_start(s), OSH_EIO);
	cr_expect(strstr(osh_rpc_server_error(s), "not a socket") != NULL, "%s",
		  osh_rpc_server_error(s));
	osh_rpc_server_destroy(s);
	cr_expect_eq(access(sock, F_OK), 0, "a regular file was removed");
	unlink(sock);
	rmdir(dir);
}
