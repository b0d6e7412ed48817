/* push_subsys.c - the log push as a supervisor subsystem (see sup_subsys.h).
 *
 * DESIGN
 * Active only in gateway mode (--gateway): init creates the client, start
 * starts its thread, stop flushes for at most PUSH_FLUSH_MS and joins. The
 * push loop itself is sup_push.c; this file is the table row's glue.
 */
#include "push_subsys.h"

#include <stddef.h>

#include "sup_push.h"

#define PUSH_FLUSH_MS 3000

static int push_init(struct osh_sup_host *host, void **state)
{
	struct osh_sup_push *p = NULL;
	int rc = 0;

	*state = NULL;
	if (!host->args->gateway)
		goto out;
	rc = osh_sup_push_create(host->args->gateway, host->sandbox_id, &p);
	if (rc == 0) {
		*state = p;
		host->push = p;
	}
out:
	return rc;
}

static int push_start(void *state)
{
	return osh_sup_push_start(state);
}

static void push_stop(void *state)
{
	osh_sup_push_stop(state, PUSH_FLUSH_MS);
}

static void push_fini(void *state)
{
	osh_sup_push_destroy(state);
}

const struct osh_sup_subsys osh_sup_push_subsys = {
    .name = "push",
    .init = push_init,
    .start = push_start,
    .stop = push_stop,
    .fini = push_fini,
};
