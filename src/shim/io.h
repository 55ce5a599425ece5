/* A process's stdio as containerd names it, opened the way its runc shim
 * does (pkg/process/io.go): a FIFO path (the scheme-less default), file://
 * (stdout and stderr appended to one file), binary:// (a logging program
 * that reads stdout and stderr from fds 3 and 4 and says it is ready on fd
 * 5), or nothing. */
#ifndef VEIL_SHIM_IO_H
#define VEIL_SHIM_IO_H

#include <sys/types.h>

#include "lib/error.h"

struct shim_io {
	int in;        /* -1: no stdin */
	int out, err;  /* non-blocking; /dev/null when not wanted */
	pid_t logger;  /* the binary:// program, 0 if none */
};

/* How long a binary:// logger has to say it is ready. */
#define SHIM_IO_LOGGER_READY_MS 10000

void shim_io_init(struct shim_io *io);
/* stdin: a FIFO path or ""; stdout, stderr: URIs or "". id and ns are the
 * logger's CONTAINER_ID and CONTAINER_NAMESPACE. FIFOs are opened read-write,
 * so that neither end's coming and going (containerd restarting) gives the
 * other EOF or SIGPIPE; stdin then ends only with CloseIO. */
int shim_io_open(struct shim_io *io, const char *in, const char *out, const char *err_uri, const char *id,
		 const char *ns, veil_err_t *err);
/* Closes the fds; a logger reads EOF and exits (it is reaped by the shim's
 * SIGCHLD handling). */
void shim_io_close(struct shim_io *io);

/* binary://PATH?k=v&...: the program and its arguments (k v ...), percent-
 * decoded; for tests and the fuzzer too. argv has room for max entries and
 * ends with NULL; the strings are malloc'd (free each). -1 if the URI is
 * malformed or has too many arguments. */
int shim_io_binary_argv(const char *uri, char **argv, size_t max, veil_err_t *err);

#endif
