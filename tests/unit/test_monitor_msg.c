/* The verbs-to-monitor messages: what one end encodes the other decodes, and
 * the monitor refuses what no verb sends. */
#include <signal.h>
#include <string.h>

#include "runtime/monitor_msg.h"
#include "tap.h"

static int decode_text(const char *text, struct veil_monitor_request *req, json_object **keep, veil_err_t *err)
{
	*keep = json_tokener_parse(text);
	return veil_monitor_request_decode(*keep, req, err);
}

static void test_requests(void)
{
	json_object *process = json_tokener_parse("{\"args\": [\"ps\"], \"cwd\": \"/\"}");
	const struct veil_monitor_request in = { .op = VEIL_MONITOR_EXEC, .exec_id = "e1", .process = process };
	json_object *msg = veil_monitor_request_encode(&in);
	json_object_put(process);
	struct veil_monitor_request out;
	veil_err_t err = NULL;
	CHECK(veil_monitor_request_decode(msg, &out, &err) == 0 && out.op == VEIL_MONITOR_EXEC &&
		      strcmp(out.exec_id, "e1") == 0 && json_object_is_type(out.process, json_type_object),
	      "an exec survives the round trip, its process as an object");
	json_object_put(msg);

	msg = veil_monitor_request_encode(
		&(struct veil_monitor_request){ .op = VEIL_MONITOR_KILL, .signal = SIGKILL, .all = true });
	CHECK(veil_monitor_request_decode(msg, &out, &err) == 0 && out.op == VEIL_MONITOR_KILL && out.signal == SIGKILL &&
		      out.all && strcmp(out.exec_id, "") == 0,
	      "a kill of every process survives the round trip; no exec id means the init");
	json_object_put(msg);

	msg = veil_monitor_request_encode(&(struct veil_monitor_request){
		.op = VEIL_MONITOR_JOIN, .container_id = "member", .bundle = "/b", .start = true });
	CHECK(veil_monitor_request_decode(msg, &out, &err) == 0 && out.op == VEIL_MONITOR_JOIN &&
		      strcmp(out.container_id, "member") == 0 && strcmp(out.bundle, "/b") == 0 && out.start &&
		      strcmp(out.exec_id, "") == 0,
	      "a join survives the round trip; its forwarded signals address the init");
	json_object_put(msg);

	json_object *keep;
	CHECK(decode_text("{\"op\": \"kill\"}", &out, &keep, &err) == 0 && out.signal == SIGTERM && !out.all,
	      "a kill without a signal is SIGTERM");
	json_object_put(keep);
	static const struct {
		const char *text, *why;
	} bad[] = {
		{ "{}", "unknown request" },
		{ "{\"op\": \"reboot\"}", "unknown request" },
		{ "{\"op\": 3}", "\"op\" is of the wrong type" },
		{ "{\"op\": \"kill\", \"signal\": 0}", "invalid signal" },
		{ "{\"op\": \"kill\", \"signal\": 65}", "invalid signal" },
		{ "{\"op\": \"kill\", \"signal\": \"9\"}", "\"signal\" is of the wrong type" },
		{ "{\"op\": \"kill\", \"all\": 1}", "\"all\" is of the wrong type" },
		{ "{\"op\": \"resize\", \"exec_id\": 7}", "\"exec_id\" is of the wrong type" },
		{ "{\"op\": \"exec\", \"exec_id\": \"x\"}", "exec: no process" },
		{ "{\"op\": \"exec\", \"exec_id\": \"x\", \"process\": \"{}\"}", "\"process\" is of the wrong type" },
		{ "{\"op\": \"join\", \"bundle\": \"/b\"}", "join: no container_id" },
		{ "{\"op\": \"join\", \"container_id\": \"m\"}", "join: no bundle" },
		{ "{\"op\": \"join\", \"container_id\": 1, \"bundle\": \"/b\"}", "\"container_id\" is of the wrong type" },
		{ "{\"op\": \"join\", \"container_id\": \"m\", \"bundle\": \"/b\", \"start\": 1}",
		  "\"start\" is of the wrong type" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = decode_text(bad[i].text, &out, &keep, &err);
		CHECK(rc < 0 && err != NULL && strstr(err->msg, bad[i].why) != NULL, "%s is refused: %s", bad[i].text,
		      err ? err->msg : "accepted");
		veil_error_free(&err);
		json_object_put(keep);
	}
}

static void test_replies(void)
{
	struct veil_monitor_reply in = { .n_pids = 2, .pids = { 10, 20 } }, out;
	snprintf(in.status, sizeof(in.status), "running");
	json_object *msg = veil_monitor_reply_encode(&in);
	veil_err_t err = NULL;
	CHECK(veil_monitor_reply_decode(msg, &out, &err) == 0 && strcmp(out.status, "running") == 0 && out.n_pids == 2 &&
		      out.pids[0] == 10 && out.pids[1] == 20,
	      "status and pids survive the round trip");
	json_object_put(msg);
	msg = json_tokener_parse("{\"error\": \"container not running\"}");
	CHECK(veil_monitor_reply_decode(msg, &out, &err) < 0 && strcmp(err->msg, "container not running") == 0,
	      "an error reply becomes the error");
	veil_error_free(&err);
	json_object_put(msg);

	struct veil_exit_status st = { .exit_code = 3 }, back;
	msg = veil_monitor_exit_encode(&st);
	CHECK(veil_monitor_exit_decode(msg, &back) == 1 && back.exit_code == 3 && back.signal == 0,
	      "an exit status survives the round trip");
	json_object_put(msg);
	msg = json_tokener_parse("{\"ok\": true}");
	CHECK(veil_monitor_exit_decode(msg, &back) == 0, "another message is not an exit");
	json_object_put(msg);
}

int main(void)
{
	test_requests();
	test_replies();
	return tap_done();
}
