/* sup_host.c - the host services subsystems use (see sup_subsys.h).
 *
 * DESIGN
 * Environment additions are kept as "NAME=VALUE" heap strings in call order;
 * a later call for the same NAME replaces the earlier string, so the list is
 * exactly what osh_sup_env_build() takes as its `extra` overrides.
 */
#include "sup_subsys.h"

#include "sup_proc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int osh_sup_host_setenv(struct osh_sup_host *host, const char *name, const char *value)
{
	size_t nlen, cap;
	char *kv = NULL;
	char **grown;
	int rc = OSH_EINVAL;

	if (!name || !*name || strchr(name, '='))
		goto out;
	nlen = strlen(name);
	rc = OSH_ENOMEM;
	cap = nlen + strlen(value ? value : "") + 2;
	kv = malloc(cap);
	if (!kv)
		goto out;
	snprintf(kv, cap, "%s=%s", name, value ? value : "");
	for (int i = 0; i < host->n_env_extra; i++) {
		if (strncmp(host->env_extra[i], name, nlen) == 0 &&
		    host->env_extra[i][nlen] == '=') {
			free(host->env_extra[i]);
			host->env_extra[i] = kv;
			kv = NULL;
			rc = 0;
			goto out;
		}
	}
	grown = realloc(host->env_extra, sizeof(*grown) * (size_t)(host->n_env_extra + 1));
	if (!grown)
		goto out;
	host->env_extra = grown;
	host->env_extra[host->n_env_extra++] = kv;
	kv = NULL;
	rc = 0;
out:
	free(kv);
	return rc;
}

int osh_sup_host_child_env(const struct osh_sup_host *host, char ***out)
{
	const struct osh_sup_args *a = host->args;

	return osh_sup_env_build(host->envp, a->pass_env, a->n_pass_env,
				 (const char *const *)host->env_extra, host->n_env_extra,
				 a->sandbox_id, a->sandbox_name, out);
}

void osh_sup_host_fini(struct osh_sup_host *host)
{
	for (int i = 0; i < host->n_env_extra; i++)
		free(host->env_extra[i]);
	free(host->env_extra);
	host->env_extra = NULL;
	host->n_env_extra = 0;
}
