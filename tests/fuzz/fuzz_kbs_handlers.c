/* libFuzzer target for veil-kbs's request handlers, called directly as the
 * HTTP layer calls them: the first byte picks auth, attest (in a fresh
 * session) or resource (the rest is the path); the rest is the body. Every
 * answer must be a status with a JSON body, a refusal a problem-details one. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kbs/kbs.h"
#include "lib/fsutil.h"
#include "lib/json.h"

static struct kbs kbs;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	char dir[] = "/tmp/veil-fuzz-kbs.XXXXXX";
	if (mkdtemp(dir) == NULL)
		return -1;
	struct kbs_config cfg = { .session_timeout = 60, .max_sessions = 64, .max_connections = 8, .connection_timeout = 5 };
	cfg.data_dir = strdup(dir);
	cfg.admin_socket = strdup("/nonexistent");
	cfg.listen_host = strdup("127.0.0.1");
	veil_err_t err = NULL;
	static const char ref[] = "[emulated]\nmeasurements = []\n";
	static const char pol[] = "[resource.\"a/b/c\"]\ntee = [\"emulated\"]\n";
	if (kbs_store_put_file(dir, "reference-values.toml", ref, strlen(ref), &err) < 0 ||
	    kbs_store_put_file(dir, "policy.toml", pol, strlen(pol), &err) < 0 || kbs_init(&kbs, &cfg, &err) < 0)
		return -1;
	return 0;
}

static void check(const struct kbs_response *r)
{
	if (r->body == NULL || (r->status != 200 && r->status < 400))
		abort();
	json_object *o = NULL;
	if (veil_json_parse(r->body, strlen(r->body), "response", &o, NULL) < 0)
		abort();
	if (r->status != 200 && json_object_object_get(o, "type") == NULL)
		abort();
	json_object_put(o);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	if (size == 0)
		return 0;
	const char *body = (const char *)data + 1;
	size_t len = size - 1;
	struct kbs_response r;
	switch (data[0] % 3) {
	case 0:
		kbs_handle_auth(&kbs, body, len, &r);
		break;
	case 1: {
		static const char req[] = "{\"version\":\"0.1.1\",\"tee\":\"snp\",\"extra-params\":\"\"}";
		kbs_handle_auth(&kbs, req, strlen(req), &r);
		char cookie[KBS_SESSION_ID_LEN + 1];
		memcpy(cookie, r.set_cookie, sizeof(cookie));
		kbs_response_free(&r);
		kbs_handle_attest(&kbs, cookie, body, len, &r);
		break;
	}
	default: {
		char *path = strndup(body, len);
		kbs_handle_resource(&kbs, "0123456789abcdef0123456789abcdef", path, &r);
		free(path);
	}
	}
	check(&r);
	kbs_response_free(&r);
	return 0;
}
