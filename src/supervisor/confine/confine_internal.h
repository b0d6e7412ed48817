/* confine_internal.h - the prepared confinement, shared by the confine_*.c
 * files of the core library (not part of the module's API).
 *
 * DESIGN
 * One struct holds everything the child needs, laid out so the child reads
 * plain fields only: fixed arrays for names and groups, one fd, one BPF
 * buffer. Each confine_*.c fills its part during osh_confine_prepare.
 */
#ifndef OSH_CONFINE_INTERNAL_H
#define OSH_CONFINE_INTERNAL_H

#include <linux/filter.h>

#include "osh_confine.h"

struct osh_confine {
	struct osh_confine_summary sum;
	char user[64];
	char group[64];
	gid_t groups[OSH_CONFINE_MAX_GROUPS];
	int n_groups;
	int ruleset_fd; /* -1: no Landlock */
	struct sock_filter *bpf;
	unsigned short bpf_len;
	int notify_sock[2]; /* seccomp_notify: [0] supervisor, [1] child; -1 else */
};

/* Error text helper: "step: what: strerror" into err. Always returns rc. */
int osh_confine_fail(int rc, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Report a note when a callback is set. */
void osh_confine_report(const struct osh_confine_opts *o, const struct osh_confine_note *n);

/* confine_user.c: resolve (create) the run-as user/group into c. */
OSH_MUST_CHECK int osh_confine_user_prepare(const struct osh_confine_opts *o, struct osh_confine *c,
					    char *err, size_t errlen);

/* confine_fs.c: create missing read-write directories (owned by c's user
 * when ids switch), build the Landlock ruleset into c->ruleset_fd. */
OSH_MUST_CHECK int osh_confine_fs_prepare(const struct osh_confine_opts *o, struct osh_confine *c,
					  char *err, size_t errlen);

/* confine_seccomp.c: compile and export the filter into c->bpf. */
OSH_MUST_CHECK int osh_confine_seccomp_prepare(struct osh_confine *c, bool notify, char *err,
					       size_t errlen);

#endif
