/* main.c - the `openshell` executable: everything lives in osh_cli. */
#include "osh_cli.h"

int main(int argc, char **argv)
{
	return osh_cli_main(argc, argv);
}
