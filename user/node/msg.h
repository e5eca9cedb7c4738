/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one printer of run-time messages: each is one line on stderr (or several, the ones after
 * the first indented by its caller), "ephtrace CMD: what: why", written by one fprintf() so
 * that the threads' messages do not mix. The command's name tells apart the ephtrace processes
 * that write to one journal, as the usage errors of user/cmd/app.c already do. Usage errors
 * (app.h) stay apart: they quote the command line and exit 2.
 *
 * Here, in user/node/, because user/core/ writes to no descriptor and both the node modules
 * and the commands print messages. What stderr shows besides them: libbpf's and
 * libmicrohttpd's own messages with -v, and events' summary table (output, not a message).
 */
#ifndef EPH_MSG_H
#define EPH_MSG_H

/* The command named in every message from now on ("events"); main() sets it once, before any
 * thread starts. Unset (tests that link the node modules): "ephtrace: ". */
void eph_msg_cmd(const char *cmd);

/* Something failed: the command stops, or goes on without what failed. No trailing newline. */
void eph_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Not a failure: what the command uses or lacks (the backend, a degradation), -v's details.
 * The same line as eph_err(): the two name the caller's intent, not a level to filter on. */
void eph_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
