/* test_sup_host.c - the host services subsystems use, and the enforced set.
 *
 * DESIGN
 * Both are small, but every policy event's honesty rests on the enforced set
 * and every subsystem's child variables on setenv: each promise of the
 * headers is checked by value.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sup_args.h"
#include "sup_enforce.h"
#include "sup_proc.h"
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

/* Processes started in the sandbox besides the command (SSH sessions) get
 * the command's environment: the allow-list, --pass-env, every subsystem's
 * setenv (later ones win), the sandbox's id and name; nothing else of the
 * supervisor's own environment. */
Test(sup_host, child_env_is_the_commands)
{
	struct osh_sup_host h;
	struct osh_sup_args a;
	static char e0[] = "PATH=/bin", e1[] = "SECRET_TOKEN=x", e2[] = "KEEP=1";
	char *envp[] = {e0, e1, e2, NULL};
	const char *pass[] = {"KEEP"};
	char **env = NULL;
	bool path = false, keep = false, proxy = false, id = false, secret = false;

	memset(&h, 0, sizeof(h));
	memset(&a, 0, sizeof(a));
	a.pass_env = pass;
	a.n_pass_env = 1;
	a.sandbox_id = "sb-1";
	a.sandbox_name = "demo";
	h.args = &a;
	h.envp = envp;
	cr_assert_eq(osh_sup_host_setenv(&h, "HTTP_PROXY", "http://10.0.0.1:1"), 0);
	cr_assert_eq(osh_sup_host_setenv(&h, "HTTP_PROXY", "http://10.0.0.1:3128"), 0);
	cr_assert_eq(osh_sup_host_child_env(&h, &env), 0);
	for (int i = 0; env[i]; i++) {
		path |= strcmp(env[i], "PATH=/bin") == 0;
		keep |= strcmp(env[i], "KEEP=1") == 0;
		proxy |= strcmp(env[i], "HTTP_PROXY=http://10.0.0.1:3128") == 0;
		id |= strcmp(env[i], "OPENSHELL_SANDBOX_ID=sb-1") == 0;
		secret |= strncmp(env[i], "SECRET_TOKEN=", 13) == 0;
	}
	cr_assert(path && keep && proxy && id, "path %d keep %d proxy %d id %d", path, keep, proxy,
		  id);
	cr_assert_not(secret, "a supervisor variable leaked");
	osh_sup_env_free(env);
	osh_sup_host_fini(&h);
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
