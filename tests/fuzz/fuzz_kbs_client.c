/* libFuzzer target for the guest's side of the KBS protocol, which reads
 * bytes the host relays: the input is a KBS's HTTP response (through a
 * socketpair), and its body is tried as a Challenge, a token and an error. */
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attest/kbs_client.h"

static void parse_body(const char *body, size_t len)
{
	char nonce[VEIL_KBS_NONCE_MAX + 1];
	char *token = NULL, *kind = NULL, *detail = NULL;
	if (veil_kbs_challenge_parse(body, len, nonce, NULL, NULL) == 0 && strlen(nonce) > VEIL_KBS_NONCE_MAX)
		abort();
	if (veil_kbs_token_parse(body, len, &token, NULL) == 0)
		free(token);
	if (veil_kbs_error_parse(body, len, &kind, &detail, NULL) == 0) {
		free(kind);
		free(detail);
	}
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	int sv[2];
	if (size > 200000 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return 0;
	int sndbuf = 1 << 20;
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof(sndbuf));
	/* The "KBS" answers at once and hangs up; the request goes unread. */
	if (write(sv[1], data, size) != (ssize_t)size) {
		close(sv[0]);
		close(sv[1]);
		return 0;
	}
	shutdown(sv[1], SHUT_WR);
	struct veil_kbs_http_reply r;
	veil_err_t err = NULL;
	const struct veil_kbs_transport t = veil_kbs_fd_transport(&sv[0]);
	if (veil_kbs_http(&t, "POST", "kbs", "/kbs/v0/auth", "cookie", "{}", 2, 1000, &r, &err) == 0) {
		if (r.status < 100 || r.status > 599 || r.body == NULL || r.body[r.len] != '\0')
			abort();
		parse_body(r.body, r.len);
		veil_kbs_http_reply_free(&r);
	} else if (err == NULL) {
		abort();
	}
	veil_error_free(&err);
	close(sv[0]);
	close(sv[1]);
	return 0;
}
