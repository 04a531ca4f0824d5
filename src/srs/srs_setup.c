/*
 * srs_setup.c - the SRS state of a configuration: its domain, how long its
 * addresses stay valid and its secret.  Called by the server at start and
 * at SIGHUP (the relay and the SMTP server use the result), and by
 * `correio check` for the domain it prints.
 */
#include "srs/srs.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "lib/util.h"

void srs_config_domain(const struct config *cfg, char *out, size_t size)
{
	if (cfg->srs_domain[0] != '\0' ||
	    str_list_item(cfg->local_domains, 0, out, size) <= 0)
		str_copy(out, cfg->srs_domain[0] != '\0' ? cfg->srs_domain : cfg->hostname,
			 size);
	str_lower(out);
}

int srs_setup(const struct config *cfg, struct srs **r, const char **error_r)
{
	char path[1100];
	struct srs *srs;

	*r = NULL;
	if (!cfg->srs_enabled)
		return 1;
	srs = xcalloc(1, sizeof(*srs));
	srs_config_domain(cfg, srs->domain, sizeof(srs->domain));
	srs->max_age_days = (unsigned)(cfg->srs_max_age / 86400);
	if (cfg->srs_secret_file[0] != '\0')
		str_copy(path, cfg->srs_secret_file, sizeof(path));
	else
		snprintf(path, sizeof(path), "%s/srs.secret", cfg->data_dir);
	if (srs_secret_load(srs, path, error_r) < 0) {
		free(srs);
		return -1;
	}
	*r = srs;
	return 1;
}

void srs_free(struct srs **srs)
{
	if (*srs == NULL)
		return;
	explicit_bzero(*srs, sizeof(**srs));
	free(*srs);
	*srs = NULL;
}
