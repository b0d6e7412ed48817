/* main.c - openshell-sandbox: everything lives in osh_supervisor (osh_sup.h).
 * DESIGN: a thin main so tests link the library and run the same code. */
#include <unistd.h>

#include "osh_sup.h"

extern char **environ;

int main(int argc, char **argv)
{
	return osh_sup_main(argc, argv, environ);
}
