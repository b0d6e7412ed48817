/* proxy_l7.c - L7 hand-off: one thread per inspected connection (see
 * proxy_l7.h).
 *
 * DESIGN
 * A job owns copies of everything the decision worker knew (target, the
 * client's identity strings, an engine reference), so the proxy's
 * connection record can be freed as soon as the fds are handed over. Jobs
 * are kept in a list under the pool lock so stop can shut their sockets
 * down (every blocking call then returns) and wait for the count to reach
 * zero. Threads are detached; the last thing a job does is leave the list.
 */
#include "proxy_l7.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "l7_sites.h"
#include "osh_denials.h"
#include "osh_l7_io.h"
#include "osh_l7_relay.h"
#include "osh_l7_tls.h"
#include "osh_secret.h"

struct job {
	struct job *prev, *next;
	struct osh_proxy_l7 *p;
	int cfd, ufd;
	char *pre;
	size_t pre_len;
	bool is_connect;
	struct osh_http_target t;
	char src_ip[64], dst_ip[64];
	uint16_t src_port;
	char *exe;
	char *anc[OSH_PROXY_ANC_MAX];
	pid_t anc_pid[OSH_PROXY_ANC_MAX];
	size_t n_anc;
	pid_t pid;
	struct osh_proxy_engine *eng;
	char policy[256];     /* the policy that admitted the connection */
	char req_policy[256]; /* the policy that allowed the current request */
	bool enforce;
	struct osh_l7_evctx ev;
};

struct osh_proxy_l7 {
	struct osh_proxy_l7_cfg cfg;
	pthread_mutex_t lock;
	pthread_cond_t idle;
	struct job *jobs;
	unsigned active;
	bool stopping;
};

int osh_proxy_l7_create(const struct osh_proxy_l7_cfg *cfg, struct osh_proxy_l7 **out)
{
	struct osh_proxy_l7 *p = calloc(1, sizeof(*p));

	*out = NULL;
	if (!p)
		return OSH_ENOMEM;
	p->cfg = *cfg;
	if (!p->cfg.max)
		p->cfg.max = 64;
	if (!p->cfg.timeout_ms)
		p->cfg.timeout_ms = 30000;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->idle, NULL);
	*out = p;
	return 0;
}

unsigned osh_proxy_l7_active(struct osh_proxy_l7 *p)
{
	unsigned n;

	pthread_mutex_lock(&p->lock);
	n = p->active;
	pthread_mutex_unlock(&p->lock);
	return n;
}

static void job_free(struct job *j)
{
	if (j->cfd >= 0)
		close(j->cfd);
	if (j->ufd >= 0)
		close(j->ufd);
	osh_proxy_engine_unref(j->eng);
	free(j->pre);
	free(j->exe);
	for (size_t i = 0; i < j->n_anc; i++)
		free(j->anc[i]);
	free(j);
}

/* ------------------------------------------------------- callbacks */

static void decide(void *ud, const char *method, const char *target, struct osh_l7_decision *d)
{
	struct job *j = ud;
	struct osh_proxy_engine *now = j->p->cfg.engine_now(j->p->cfg.ud);
	struct osh_proxy_who who = {
	    .exe = j->exe, .ancestors = (const char *const *)j->anc, .n_ancestors = j->n_anc};
	const char *pol = NULL;
	size_t pl = strcspn(target, "?");

	if (osh_proxy_engine_l7_allow(now ? now : j->eng, j->t.host, j->t.port, &who, method,
				      target, &pol, d->rule, sizeof(d->rule))) {
		d->v = OSH_L7_V_ALLOW;
		snprintf(j->req_policy, sizeof(j->req_policy), "%s", pol);
		d->policy = j->req_policy;
	} else {
		d->v = j->enforce ? OSH_L7_V_DENY : OSH_L7_V_AUDIT;
		d->policy = j->policy;
		snprintf(d->rule, sizeof(d->rule), "%s %.*s", method, (int)(pl > 200 ? 200 : pl),
			 target);
		snprintf(d->reason, sizeof(d->reason), "%s %.*s not permitted by policy", method,
			 (int)(pl > 400 ? 400 : pl), target);
		if (d->v == OSH_L7_V_DENY) {
			/* the denials subsystem proposes rules from these (docs/l7.md) */
			char path[512];
			struct osh_denial dn = {.host = j->t.host,
						.port = j->t.port,
						.binary = j->exe,
						.ancestors = (const char *const *)j->anc,
						.n_ancestors = j->n_anc,
						.reason = d->reason,
						.stage = OSH_DENIAL_FORWARD_L7,
						.method = method,
						.path = path};

			snprintf(path, sizeof(path), "%.*s", (int)(pl > 500 ? 500 : pl), target);
			osh_denials_record(&dn);
		}
	}
	osh_proxy_engine_unref(now);
}

static int rewrite(void *ud, const char *head, size_t len, char **out, size_t *out_len,
		   char *reason, size_t rlen)
{
	struct job *j = ud;
	const struct osh_secret_store *ss = j->p->cfg.secrets ? *j->p->cfg.secrets : NULL;
	unsigned n = 0;
	char why[160];
	int rc = osh_secret_substitute(ss, head, len, out, out_len, &n, why, sizeof(why));

	if (rc != 0) {
		snprintf(reason, rlen, "secret placeholder refused: %s", why);
		*out = NULL;
		rc = -1;
	} else if (n == 0) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

/* ---------------------------------------------------------- thread */

/* The first byte from the client: 1 = TLS ClientHello, 0 = something
 * else, -1 = EOF / error / timeout. */
static int peek_tls(int fd, unsigned timeout_ms)
{
	struct pollfd pf = {.fd = fd, .events = POLLIN};
	unsigned char b = 0;
	int rc;

	do
		rc = poll(&pf, 1, (int)timeout_ms);
	while (rc < 0 && errno == EINTR);
	if (rc <= 0)
		return -1;
	rc = (int)recv(fd, &b, 1, MSG_PEEK);
	if (rc <= 0)
		return -1;
	return b == 0x16 ? 1 : 0;
}

/* After a refusal inside TLS: read what the client still sends for a
 * moment, so closing does not reset the answer away. */
static void linger(struct osh_l7_io *io)
{
	char sink[4096];

	if (io->shutdown_write)
		io->shutdown_write(io->ctx);
	for (int i = 0; i < 64 && io->read(io->ctx, sink, sizeof(sink)) > 0; i++)
		;
}

static void run_tls(struct job *j, struct osh_l7_relay_cfg *rc, struct osh_l7_io *uplain)
{
	struct osh_proxy_l7 *p = j->p;
	struct osh_l7_tls_session *cs = NULL, *us = NULL;
	char err[512];
	const char *sni;

	(void)uplain;
	if (j->pre_len > 0) {
		osh_l7_ev_parse_error(&j->ev,
				      "bytes sent before the CONNECT answer on an "
				      "inspected connection",
				      400);
		return;
	}
	if (osh_l7_tls_accept(p->cfg.tls, j->cfd, j->t.host, p->cfg.timeout_ms, &cs, err,
			      sizeof(err)) != 0) {
		osh_l7_ev_tls_client_fail(&j->ev, err);
		return;
	}
	sni = osh_l7_tls_sni(cs);
	if (sni && strcasecmp(sni, j->t.host) != 0) {
		char why[400];

		osh_l7_ev_sni_mismatch(&j->ev, sni);
		snprintf(why, sizeof(why), "TLS SNI %.100s does not match the CONNECT host %.100s",
			 sni, j->t.host);
		osh_l7_answer(osh_l7_tls_io(cs), 421, why);
		linger(osh_l7_tls_io(cs));
		osh_l7_tls_session_free(cs);
		return;
	}
	if (osh_l7_tls_connect(p->cfg.tls, j->ufd, j->t.host, p->cfg.timeout_ms, &us, err,
			       sizeof(err)) != 0) {
		char why[600];

		osh_l7_ev_tls_upstream_fail(&j->ev, err);
		snprintf(why, sizeof(why), "upstream TLS: %s", err);
		osh_l7_answer(osh_l7_tls_io(cs), 502, why);
		linger(osh_l7_tls_io(cs));
		osh_l7_tls_session_free(cs);
		return;
	}
	rc->client = osh_l7_tls_io(cs);
	rc->upstream = osh_l7_tls_io(us);
	j->ev.scheme = "https";
	(void)osh_l7_relay_run(rc, NULL);
	osh_l7_tls_session_free(us);
	osh_l7_tls_session_free(cs);
}

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct osh_proxy_l7 *p = j->p;
	struct osh_l7_fdio cst, ust;
	struct osh_l7_io cio, uio;
	struct osh_l7_relay_cfg rc = {0};
	static const char ok[] = "HTTP/1.1 200 Connection Established\r\n\r\n";

	osh_l7_io_from_fd(&cio, &cst, j->cfd, p->cfg.timeout_ms);
	osh_l7_io_from_fd(&uio, &ust, j->ufd, p->cfg.timeout_ms);
	rc.client = &cio;
	rc.upstream = &uio;
	rc.host = j->t.host;
	rc.port = j->t.port;
	rc.forward = !j->is_connect;
	rc.pre = j->pre;
	rc.pre_len = j->pre_len;
	rc.decide = decide;
	rc.rewrite = rewrite;
	rc.ud = j;
	rc.ev = &j->ev;
	rc.body_max = p->cfg.body_max;
	if (!j->is_connect) {
		(void)osh_l7_relay_run(&rc, NULL);
	} else if (cio.write_all(cio.ctx, ok, sizeof(ok) - 1) == 0) {
		int tls = !p->cfg.tls ? 0 : peek_tls(j->cfd, p->cfg.timeout_ms);

		if (tls == 1)
			run_tls(j, &rc, &uio);
		else if (tls == 0)
			(void)osh_l7_relay_run(&rc, NULL);
	}
	pthread_mutex_lock(&p->lock);
	if (j->prev)
		j->prev->next = j->next;
	else
		p->jobs = j->next;
	if (j->next)
		j->next->prev = j->prev;
	p->active--;
	pthread_cond_broadcast(&p->idle);
	pthread_mutex_unlock(&p->lock);
	job_free(j);
	return NULL;
}

static struct job *job_new(struct osh_proxy_l7 *p, const struct osh_proxy_l7_req *r)
{
	struct job *j = calloc(1, sizeof(*j));
	bool ok = true;

	if (!j)
		return NULL;
	j->p = p;
	j->cfd = j->ufd = -1;
	j->is_connect = r->is_connect;
	j->t = *r->t;
	snprintf(j->src_ip, sizeof(j->src_ip), "%s", r->src_ip ? r->src_ip : "");
	snprintf(j->dst_ip, sizeof(j->dst_ip), "%s", r->dst_ip ? r->dst_ip : "");
	j->src_port = r->src_port;
	snprintf(j->policy, sizeof(j->policy), "%s", r->v->policy ? r->v->policy : "-");
	j->enforce = r->v->ep && osh_l7_rules_enforce(r->v->ep->l7);
	if (r->pre_len) {
		j->pre = malloc(r->pre_len);
		ok = j->pre != NULL;
		if (ok)
			memcpy(j->pre, r->pre, r->pre_len);
		j->pre_len = r->pre_len;
	}
	if (ok && r->peer) {
		j->pid = r->peer->pid;
		j->exe = r->peer->exe ? strdup(r->peer->exe) : NULL;
		ok = !r->peer->exe || j->exe;
		for (size_t i = 0; ok && i < r->peer->n_anc; i++) {
			j->anc[i] = strdup(r->peer->anc[i]);
			j->anc_pid[i] = r->peer->anc_pid[i];
			j->n_anc = i + 1;
			ok = j->anc[i] != NULL;
		}
	}
	if (!ok) {
		job_free(j);
		return NULL;
	}
	j->eng = osh_proxy_engine_ref(r->eng);
	j->ev.src_ip = j->src_ip;
	j->ev.src_port = j->src_port;
	j->ev.host = j->t.host;
	j->ev.port = j->t.port;
	j->ev.dst_ip = j->dst_ip;
	j->ev.scheme = "http";
	j->ev.exe = j->exe;
	j->ev.pid = j->pid;
	j->ev.anc = (const char *const *)j->anc;
	j->ev.anc_pid = j->anc_pid;
	j->ev.n_anc = j->n_anc;
	j->ev.policy = j->policy;
	j->ev.generation = r->eng ? osh_proxy_engine_generation(r->eng) : 0;
	return j;
}

int osh_proxy_l7_handoff(struct osh_proxy_l7 *p, const struct osh_proxy_l7_req *r)
{
	struct job *j = job_new(p, r);
	pthread_attr_t attr;
	pthread_t thr;
	int rc = 0;

	if (!j)
		return OSH_ENOMEM;
	pthread_mutex_lock(&p->lock);
	if (p->stopping || p->active >= p->cfg.max) {
		rc = OSH_EFULL;
	} else {
		p->active++;
		j->next = p->jobs;
		if (p->jobs)
			p->jobs->prev = j;
		p->jobs = j;
		j->cfd = r->cfd;
		j->ufd = r->ufd;
	}
	pthread_mutex_unlock(&p->lock);
	if (rc == OSH_EFULL) {
		osh_l7_ev_limit(&j->ev, p->cfg.max);
		job_free(j);
		return rc;
	}
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	pthread_attr_setstacksize(&attr, (size_t)256 * 1024);
	if (pthread_create(&thr, &attr, job_main, j) != 0) {
		pthread_mutex_lock(&p->lock);
		if (j->prev)
			j->prev->next = j->next;
		else
			p->jobs = j->next;
		if (j->next)
			j->next->prev = j->prev;
		p->active--;
		pthread_mutex_unlock(&p->lock);
		j->cfd = j->ufd = -1; /* the caller keeps them */
		job_free(j);
		rc = OSH_ESYS;
	}
	pthread_attr_destroy(&attr);
	return rc;
}

void osh_proxy_l7_stop(struct osh_proxy_l7 *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = true;
	for (struct job *j = p->jobs; j; j = j->next) {
		shutdown(j->cfd, SHUT_RDWR);
		shutdown(j->ufd, SHUT_RDWR);
	}
	while (p->active > 0)
		pthread_cond_wait(&p->idle, &p->lock);
	pthread_mutex_unlock(&p->lock);
}

void osh_proxy_l7_destroy(struct osh_proxy_l7 *p)
{
	if (!p)
		return;
	osh_proxy_l7_stop(p);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->idle);
	free(p);
}
