// SPDX-License-Identifier: GPL-2.0
/*
 * ephtrace serve: libmicrohttpd's callbacks, on its thread. The requests (GET and HEAD of
 * /metrics, /healthz and /), the framing a proxy could read otherwise refused, and each
 * connection's place in the connection limits (httplimit.h) kept from its accept to its close.
 */
#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "app.h"
#include "httplimit.h"
#include "metrics.h"
#include "serve_int.h"
#include "strbuf.h"

static enum MHD_Result respond(struct MHD_Connection *c, unsigned int status, const char *type,
			       struct strbuf *body)
{
	struct MHD_Response *r;
	enum MHD_Result ret;

	/* The response takes the buffer (malloc'ed by strbuf) and frees it. */
	r = MHD_create_response_from_buffer(body->len, body->buf, MHD_RESPMEM_MUST_FREE);
	if (!r) {
		sb_free(body);
		return MHD_NO;
	}
	body->buf = NULL;
	body->len = body->cap = 0;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	if (status == MHD_HTTP_BAD_REQUEST) /* where the next request starts is unknown */
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result respond_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct strbuf sb = STRBUF_INIT;

	if (sb_puts(&sb, text))
		return MHD_NO;
	return respond(c, status, "text/plain; charset=utf-8", &sb);
}

struct framing {
	unsigned int content_length;
	unsigned int transfer_encoding;
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key,
				     const char *value)
{
	struct framing *f = cls;

	(void)kind;
	(void)value;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH))
		f->content_length++;
	else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING))
		f->transfer_encoding++;
	return MHD_YES;
}

/* Two Content-Length, or one with Transfer-Encoding: where the body ends depends on who reads
 * it (libmicrohttpd 0.9.75 takes the first Content-Length), so a proxy in front could take
 * part of it for another request. RFC 9112 6.3: a 400, and the connection closed. */
static bool ambiguous_framing(struct MHD_Connection *c)
{
	struct framing f = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, count_framing, &f);
	return f.content_length > 1 || (f.content_length && f.transfer_encoding);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version, const char *upload_data,
				  size_t *upload_data_size, void **req)
{
	struct serve *s = cls;
	struct strbuf sb = STRBUF_INIT;
	enum eph_metrics_format fmt;
	uint64_t age;
	int err;

	(void)version;
	(void)upload_data;
	if (!*req) {
		/* Headers are in. Refuse other methods before reading any body (the connection
		 * is then closed); answer the others on the next call, after the request ends,
		 * which lets the connection be kept alive. */
		*req = s;
		if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
			return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED, "only GET and HEAD\n");
		if (ambiguous_framing(c))
			return respond_text(c, MHD_HTTP_BAD_REQUEST,
					    "ambiguous framing: two Content-Length, or "
					    "Content-Length with Transfer-Encoding\n");
		return MHD_YES;
	}
	if (*upload_data_size) { /* a GET with a body: drop it */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (!strcmp(url, "/healthz")) {
		age = eph_now_ms() - atomic_load(&s->heartbeat_ms);
		if (age > SERVE_STALE_MS) {
			if (sb_printf(&sb, "stale: the event loop last ran %llu ms ago\n",
				      (unsigned long long)age))
				return MHD_NO;
			return respond(c, MHD_HTTP_SERVICE_UNAVAILABLE, "text/plain; charset=utf-8",
				       &sb);
		}
		return respond_text(c, MHD_HTTP_OK, "ok\n");
	}
	if (!strcmp(url, "/"))
		return respond_text(c, MHD_HTTP_OK, "ephtrace exporter: /metrics /healthz\n");
	if (strcmp(url, "/metrics"))
		return respond_text(c, MHD_HTTP_NOT_FOUND, "not found: try /metrics\n");
	fmt = eph_metrics_wants_openmetrics(
		      MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT)) ?
		      EPH_METRICS_OPENMETRICS :
		      EPH_METRICS_TEXT;
	err = build_metrics(s, fmt, &sb);
	if (err) {
		sb_reset(&sb);
		if (sb_printf(&sb, "reading the kernel's counters failed: %s\n", strerror(-err)))
			return MHD_NO;
		return respond(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain; charset=utf-8", &sb);
	}
	return respond(c, MHD_HTTP_OK,
		       fmt == EPH_METRICS_OPENMETRICS ? EPH_METRICS_OPENMETRICS_TYPE :
							EPH_METRICS_TEXT_TYPE,
		       &sb);
}

/* libmicrohttpd's thread, after it accepted a connection and before it closes its socket. */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_ctx,
			  enum MHD_ConnectionNotificationCode what)
{
	const union MHD_ConnectionInfo *fd, *peer;
	struct serve *s = cls;

	if (what == MHD_CONNECTION_NOTIFY_CLOSED) {
		eph_httplimit__remove(s->hl, *socket_ctx);
		*socket_ctx = NULL;
		return;
	}
	fd = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
	peer = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	if (fd && peer)
		*socket_ctx =
			eph_httplimit__add(s->hl, fd->connect_fd, peer->client_addr, eph_now_ms());
}

/* A request ended: answered in full (the next one's wait starts), or not (closing). */
static void on_completed(void *cls, struct MHD_Connection *c, void **req,
			 enum MHD_RequestTerminationCode how)
{
	const union MHD_ConnectionInfo *ctx;
	struct serve *s = cls;

	(void)req;
	if (how != MHD_REQUEST_TERMINATED_COMPLETED_OK)
		return;
	ctx = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	if (ctx && ctx->socket_context)
		eph_httplimit__answered(s->hl, ctx->socket_context, eph_now_ms());
}

struct MHD_Daemon *start_http(struct serve *s, int fd, bool verbose)
{
	return MHD_start_daemon(MHD_USE_AUTO_INTERNAL_THREAD | (verbose ? MHD_USE_ERROR_LOG : 0), 0,
				NULL, NULL, on_request, s, MHD_OPTION_LISTEN_SOCKET, fd,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned int)SERVE_HARD_CONNECTIONS,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)SERVE_HARD_PER_IP,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)SERVE_IDLE_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)SERVE_CONN_MEMORY,
				MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_NOTIFY_CONNECTION,
				on_connection, s, MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
				MHD_OPTION_END);
}
