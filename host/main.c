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
	        "usage: maybep2pd [-c FILE] [-t] [-V] [-h]\n"
	        "  -c FILE  the config file (default %s)\n"
	        "  -t       check the config, load every plugin and run its init, then exit\n"
	        "  -V       print the host version and the plugin ABI version\n"
	        "  -h       this help\n",
	        DEFAULT_CONFIG);
}

int main(int argc, char **argv)
{
	const char *config_path = DEFAULT_CONFIG;
	struct diag errs = { 0 };
	struct host h;
	int check_only = 0, opt, rc;

	while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
		switch (opt) {
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
			n += h.slots[i] != NULL;
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
