/* test_sup_host.c - the host services subsystems use, and the enforced set.
 *
 * DESIGN
 * Both are small, but every policy event's honesty rests on the enforced set
 * and every subsystem's child variables on setenv: each promise of the
 * headers is checked by value.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sup_enforce.h"
#include "sup_subsys.h"

Test(sup_host, setenv_adds_and_overrides_in_order)
{
	struct osh_sup_host h;

	memset(&h, 0, sizeof(h));
	cr_assert_eq(osh_sup_host_setenv(&h, "HTTP_PROXY", "http://10.0.0.1:3128"), 0);
	cr_assert_eq(osh_sup_host_setenv(&h, "NO_PROXY", "localhost"), 0);
	cr_assert_eq(osh_sup_host_setenv(&h, "HTTP_PROXY", "http://10.0.0.1:9"), 0);
	cr_assert_eq(osh_sup_host_setenv(&h, "EMPTY", NULL), 0);
	cr_assert_eq(h.n_env_extra, 3);
	cr_assert_str_eq(h.env_extra[0], "HTTP_PROXY=http://10.0.0.1:9");
	cr_assert_str_eq(h.env_extra[1], "NO_PROXY=localhost");
	cr_assert_str_eq(h.env_extra[2], "EMPTY=");
	cr_assert_eq(osh_sup_host_setenv(&h, "", "x"), OSH_EINVAL);
	cr_assert_eq(osh_sup_host_setenv(&h, "A=B", "x"), OSH_EINVAL);
	cr_assert_eq(h.n_env_extra, 3);
	osh_sup_host_fini(&h);
	cr_assert_eq(h.n_env_extra, 0);
	cr_assert_null(h.env_extra);
}

Test(sup_enforce, describes_what_is_and_is_not_enforced)
{
	char json[128], missing[128];

	osh_sup_enforce_reset();
	osh_sup_enforce_describe(json, sizeof(json), missing, sizeof(missing));
	cr_assert_str_eq(json, "[]");
	cr_assert_str_eq(missing, "network, filesystem, process, seccomp, ssh, l7");
	osh_sup_enforce_set("filesystem", true);
	osh_sup_enforce_set("network", true);
	osh_sup_enforce_set("bogus", true);
	cr_assert(osh_sup_enforce_get("network"));
	cr_assert_not(osh_sup_enforce_get("seccomp"));
	cr_assert_not(osh_sup_enforce_get("bogus"));
	osh_sup_enforce_describe(json, sizeof(json), missing, sizeof(missing));
	cr_assert_str_eq(json, "[\"network\",\"filesystem\"]");
	cr_assert_str_eq(missing, "process, seccomp, ssh, l7");
	osh_sup_enforce_set("network", false);
	osh_sup_enforce_describe(json, sizeof(json), NULL, 0);
	cr_assert_str_eq(json, "[\"filesystem\"]");
	osh_sup_enforce_reset();
}
