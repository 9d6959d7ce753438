/* main.c -- maybep2pd: parse the command line, then hand over to the host. */
#include "config.h"
#include "host.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_CONFIG SYSCONFDIR "/maybep2p/maybep2p.conf"

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: maybep2pd [-c FILE] [-t] [-V] [-h] [--peer-id]\n"
	        "  -c FILE    the config file (default %s)\n"
	        "  -t         check the config, load every plugin and run its init, then exit\n"
	        "  -V         print the host version and the plugin ABI version\n"
	        "  --peer-id  print this host's peer id (creating its key in state_dir if\n"
	        "             needed), to hand to the hosts that list it in host.security.allow\n"
	        "  -h         this help\n",
	        DEFAULT_CONFIG);
}

/* --peer-id: only the config's state_dir matters; no plugin is loaded. */
static int print_peer_id(const char *config_path)
{
	struct host_config cfg;
	struct diag errs = { 0 };
	char *error_text = NULL, id[MP2P_PEER_ID_LEN + 1];
	EVP_PKEY *key;
	int rc = 1;

	if (config_load(&cfg, config_path, &errs) < 0) {
		for (int i = 0; i < errs.count; i++)
			fprintf(stderr, "%s\n", errs.lines[i]);
	} else if ((key = hostkey_load(cfg.state_dir, 1, &error_text)) == NULL ||
	           peer_id_of_key(key, id) < 0) {
		fprintf(stderr, "%s: host key: %s\n", config_path, error_text ? error_text : "unusable");
		hostkey_free(key);
	} else {
		printf("%s\n", id);
		hostkey_free(key);
		rc = 0;
	}
	free(error_text);
	diag_clear(&errs);
	config_release(&cfg);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "peer-id", no_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 }
	};
	int want_peer_id = 0;
	const char *config_path = DEFAULT_CONFIG;
	struct diag errs = { 0 };
	struct host h;
	int check_only = 0, opt, rc;

	while ((opt = getopt_long(argc, argv, "c:tVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'P': want_peer_id = 1; break;
		case 'c': config_path = optarg; break;
		case 't': check_only = 1; break;
		case 'V':
			printf("maybep2pd %s\nplugin ABI %d.%d\n", HOST_VERSION, MP2P_ABI_MAJOR, MP2P_ABI_MINOR);
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (want_peer_id)
		return print_peer_id(config_path);
	if (host_init(&h, config_path, check_only, &errs) < 0) {
		/* -t reports on stdout for scripts; a failed start logs them. */
		if (check_only)
			for (int i = 0; i < errs.count; i++)
				fprintf(stdout, "%s\n", errs.lines[i]);
		else
			diag_print(&errs, HLOG_ERR);
		diag_clear(&errs);
		host_free(&h);
		return 1;
	}
	if (check_only) {
		int n = 0;
		for (int i = 0; i < MAX_INSTANCES; i++)
			n += h.core.slots[i] != NULL;
		printf("%s: configuration ok, %d plugin%s loaded and initialised\n", config_path, n,
		       n == 1 ? "" : "s");
		host_free(&h);
		return 0;
	}
	rc = host_run(&h);
	host_free(&h);
	log_msg(HLOG_INFO, "stopped");
	return rc;
}
