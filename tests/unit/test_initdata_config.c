/* What init-data configures (attest/initdata_config.h): the KBS from CoCo's
 * cdh.toml / aa.toml, the Rego subset of the agent policy, veil.toml's
 * secrets; and the TEE port's messages (proto/tee.h). */
#include <string.h>

#include "attest/initdata_config.h"
#include "lib/cleanup.h"
#include "proto/tee.h"
#include "tap.h"

static int parse(const char *toml, struct veil_initdata *d)
{
	veil_err_t err = NULL;
	int rc = veil_initdata_parse(toml, strlen(toml), d, &err);
	if (rc < 0)
		printf("# %s\n", err->msg);
	veil_error_free(&err);
	return rc;
}

static void test_kbs_url(void)
{
	struct veil_kbs_address k;
	veil_err_t err = NULL;
	CHECK(veil_kbs_url_parse("http://10.0.0.1:8080", &k, &err) == 0 && !k.https && strcmp(k.host, "10.0.0.1") == 0 &&
		      k.port == 8080 && strcmp(k.authority, "10.0.0.1:8080") == 0,
	      "http://IP:PORT");
	CHECK(veil_kbs_url_parse("https://kbs.example/", &k, &err) == 0 && k.https && k.port == 443 &&
		      strcmp(k.authority, "kbs.example") == 0,
	      "https://NAME/: port 443, left out of the Host header");
	CHECK(veil_kbs_url_parse("http://[fd00::1]:80", &k, &err) == 0 && strcmp(k.host, "fd00::1") == 0 && k.port == 80 &&
		      strcmp(k.authority, "[fd00::1]") == 0,
	      "IPv6 in brackets");
	static const struct {
		const char *url, *msg;
	} bad[] = {
		{ "ftp://x", "KBS URL \"ftp://x\": expected http:// or https://" },
		{ "http://", "KBS URL \"http://\": the host must be 1 to 253 characters" },
		{ "http://x:0", "KBS URL \"http://x:0\": the port must be 1 to 65535" },
		{ "http://x:70000", "KBS URL \"http://x:70000\": the port must be 1 to 65535" },
		{ "http://x/kbs/v0", "KBS URL \"http://x/kbs/v0\": unexpected \"kbs/v0\" after the host and port" },
		{ "http://user@x", "KBS URL \"http://user@x\": unexpected \"@x\" after the host and port" },
		{ "http://[::1", "KBS URL \"http://[::1\": an IPv6 address ends with ']'" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(veil_kbs_url_parse(bad[i].url, &k, &err), &err, bad[i].msg, bad[i].url);
}

static void test_kbs_from_initdata(void)
{
	struct veil_initdata d;
	struct veil_kbs_address k;
	veil_err_t err = NULL;
	/* As CoCo's own examples write them. */
	const char *coco = "version = \"0.1.0\"\nalgorithm = \"sha384\"\n[data]\n"
			   "\"aa.toml\" = '''\n[token_configs]\n[token_configs.coco_as]\nurl = 'http://127.0.0.1:8000'\n\n"
			   "[token_configs.kbs]\nurl = 'http://127.0.0.1:8080'\n'''\n"
			   "\"cdh.toml\" = '''\nsocket = 'unix:///run/confidential-containers/cdh.sock'\ncredentials = []\n\n"
			   "[kbc]\nname = 'cc_kbc'\nurl = 'http://10.0.0.5:8080'\nkbs_cert = \"\"\"\n"
			   "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n\"\"\"\n'''\n";
	if (parse(coco, &d) == 0) {
		CHECK(veil_initdata_kbs(&d, &k, &err) == 1 && strcmp(k.authority, "10.0.0.5:8080") == 0 && k.cert_pem != NULL &&
			      strstr(k.cert_pem, "BEGIN CERTIFICATE") != NULL,
		      "cdh.toml's [kbc] url and kbs_cert win over aa.toml");
		veil_kbs_address_free(&k);
		veil_initdata_free(&d);
	}
	const char *aa = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n"
			 "\"aa.toml\" = '''\n[token_configs.kbs]\nurl = \"http://127.0.0.1:18080\"\n'''\n";
	if (parse(aa, &d) == 0) {
		CHECK(veil_initdata_kbs(&d, &k, &err) == 1 && strcmp(k.authority, "127.0.0.1:18080") == 0 && k.cert_pem == NULL,
		      "aa.toml's [token_configs.kbs] url when cdh.toml names none");
		veil_kbs_address_free(&k);
		veil_initdata_free(&d);
	}
	if (parse("version = \"0.1.0\"\nalgorithm = \"sha256\"\n", &d) == 0) {
		CHECK(veil_initdata_kbs(&d, &k, &err) == 0, "no KBS in init-data");
		veil_initdata_free(&d);
	}
	const char *broken = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"cdh.toml\" = '''\n[kbc]\nurl = 5\n'''\n";
	if (parse(broken, &d) == 0) {
		tap_expect_error(veil_initdata_kbs(&d, &k, &err), &err, "init-data cdh.toml: 2:7: kbc.url: expected string",
			     "a mistyped url names the file and place");
		veil_initdata_free(&d);
	}
}

static void test_policy(void)
{
	struct veil_agent_policy p;
	veil_err_t err = NULL;
	/* The shape of Kata's allow-all.rego. */
	const char *allow = "package agent_policy\n\nimport future.keywords.in\n\n# everything\n"
			    "default CopyFileRequest := true\ndefault ExecProcessRequest := true\r\n"
			    "default ReadStreamRequest := true\n";
	CHECK(veil_agent_policy_parse(allow, &p, &err) == 0 && p.exec, "Kata's allow-all: exec allowed");
	CHECK(veil_agent_policy_parse("package agent_policy\ndefault ExecProcessRequest = false\n", &p, &err) == 0 && !p.exec,
	      "old-style '=': exec denied");
	CHECK(veil_agent_policy_parse("", &p, &err) == 0 && !p.exec, "no rule: exec denied");
	struct veil_initdata d;
	if (parse("version = \"0.1.0\"\nalgorithm = \"sha256\"\n", &d) == 0) {
		CHECK(veil_initdata_policy(&d, &p, &err) == 0 && !p.exec, "no policy.rego: exec denied");
		veil_initdata_free(&d);
	}
	static const struct {
		const char *rego, *msg;
	} bad[] = {
		{ "package other\n", "policy.rego:1: the package is agent_policy, as Kata's" },
		{ "default ExecProcessRequest := true\nExecProcessRequest { true }\n",
		  "policy.rego:2: unsupported Rego \"ExecProcessRequest { true }\": veil reads only" },
		{ "default ExecProcessRequest := maybe\n", "policy.rego:1: default ExecProcessRequest must be true or false" },
		{ "default ExecProcessRequest := true x\n", "policy.rego:1: unexpected \"x\" after default ExecProcessRequest" },
		{ "default SignalProcessRequest := false\n",
		  "policy.rego:1: veil does not enforce SignalProcessRequest yet; a false default for it would not be kept" },
		{ "default := true\n", "policy.rego:1: expected a request name after default" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(veil_agent_policy_parse(bad[i].rego, &p, &err), &err, bad[i].msg, bad[i].msg);
}

static void test_secrets(void)
{
	struct veil_secret_ref ref;
	veil_err_t err = NULL;
	CHECK(veil_secret_ref_parse("db.password", "kbs:///default/key/db", &ref, &err) == 0 &&
		      strcmp(ref.name, "db.password") == 0 && strcmp(ref.path, "default/key/db") == 0,
	      "a secret: name and kbs:///repo/type/tag");
	static const struct {
		const char *name, *uri, *msg;
	} bad[] = {
		{ "..", "kbs:///a/b/c", "secret \"..\": a name is 1 to 64 characters" },
		{ "a/b", "kbs:///a/b/c", "secret \"a/b\": character 0x2f is not allowed in a name" },
		{ "x", "kbs://other/a/b/c", "secret x: \"kbs://other/a/b/c\" is not kbs:///REPO/TYPE/TAG" },
		{ "x", "kbs:///a/b", "secret x: resource \"a/b\": expected repo/type/tag" },
		{ "x", "kbs:///a/../c", "secret x: resource \"a/../c\": each of repo/type/tag" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(veil_secret_ref_parse(bad[i].name, bad[i].uri, &ref, &err), &err, bad[i].msg, bad[i].msg);

	struct veil_initdata d;
	struct veil_secret_ref refs[VEIL_MAX_SECRETS];
	size_t n = 0;
	const char *doc = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n"
			  "\"veil.toml\" = '''\n[secrets]\ndb = \"kbs:///default/key/db\"\ntls = \"kbs:///default/cert/web\"\n'''\n";
	if (parse(doc, &d) == 0) {
		CHECK(veil_initdata_secrets(&d, refs, VEIL_MAX_SECRETS, &n, &err) == 0 && n == 2 &&
			      strcmp(refs[1].name, "tls") == 0 && strcmp(refs[1].path, "default/cert/web") == 0,
		      "veil.toml's [secrets]");
		veil_secret_ref_parse("db", "kbs:///default/key/db", &ref, &err);
		CHECK(veil_secret_refs_add(refs, VEIL_MAX_SECRETS, &n, &ref, &err) == 0 && n == 2,
		      "the same secret twice is one");
		veil_secret_ref_parse("db", "kbs:///default/key/other", &ref, &err);
		tap_expect_error(veil_secret_refs_add(refs, VEIL_MAX_SECRETS, &n, &ref, &err), &err,
			     "secret db is named twice, as kbs:///default/key/db and kbs:///default/key/other",
			     "one name, two resources: refused");
		veil_initdata_free(&d);
	}
	const char *nul = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n"
			  "\"veil.toml\" = '''\n[secrets]\n\"d\\u0000b\" = \"kbs:///default/key/db\"\n'''\n";
	if (parse(nul, &d) == 0) {
		tap_expect_error(veil_initdata_secrets(&d, refs, VEIL_MAX_SECRETS, &n, &err), &err,
			     "init-data veil.toml: 2:1: a secret's name holds U+0000", "a secret's name with U+0000: refused, saying so");
		veil_initdata_free(&d);
	}
	const char *extra = "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n\"veil.toml\" = 'kbs = 1'\n";
	if (parse(extra, &d) == 0) {
		tap_expect_error(veil_initdata_secrets(&d, refs, VEIL_MAX_SECRETS, &n, &err), &err,
			     "init-data veil.toml: 1:1: unknown key \"kbs\" (expected [secrets] or [mounts])",
			     "veil.toml's unknown keys");
		veil_initdata_free(&d);
	}
}

/* veil.toml's [mounts], given as veil_toml (NULL: init-data without veil.toml). */
static int mounts_of(const char *veil_toml, struct veil_mount_policy *p, veil_err_t *err)
{
	char doc[8192];
	int n = snprintf(doc, sizeof(doc), "version = \"0.1.0\"\nalgorithm = \"sha256\"\n[data]\n");
	if (veil_toml != NULL)
		snprintf(doc + n, sizeof(doc) - (size_t)n, "\"veil.toml\" = '''\n%s\n'''\n", veil_toml);
	struct veil_initdata d;
	if (parse(doc, &d) < 0)
		return veil_fail(err, 0, "init-data did not parse");
	int rc = veil_initdata_mounts(&d, p, err);
	veil_initdata_free(&d);
	return rc;
}

static bool is_default(const struct veil_mount_policy *p)
{
	return p->n == 4 && veil_mount_policy_allows(p, "/etc/hosts") && veil_mount_policy_allows(p, "/etc/hostname") &&
	       veil_mount_policy_allows(p, "/etc/resolv.conf") && veil_mount_policy_allows(p, "/run/.containerenv");
}

static void test_mounts(void)
{
	struct veil_mount_policy p;
	veil_err_t err = NULL;
	CHECK(mounts_of(NULL, &p, &err) == 0 && is_default(&p),
	      "no veil.toml: podman's /etc/hosts, /etc/hostname, /etc/resolv.conf and /run/.containerenv");
	CHECK(mounts_of("[secrets]\ndb = \"kbs:///a/b/c\"", &p, &err) == 0 && is_default(&p),
	      "a veil.toml without [mounts]: the same default");
	struct veil_initdata none = { 0 };
	CHECK(veil_initdata_mounts(&none, &p, &err) == 0 && is_default(&p), "no init-data at all: the same default");
	CHECK(mounts_of("[mounts]\nallow = []", &p, &err) == 0 && p.n == 0 && !veil_mount_policy_allows(&p, "/etc/hosts"),
	      "allow = []: no host file at all");
	CHECK(mounts_of("[mounts]\nallow = [\"/etc/hosts\", \"/etc/localtime\", \"/opt/app config/x.conf\"]", &p, &err) == 0 &&
		      p.n == 3 && veil_mount_policy_allows(&p, "/etc/localtime") &&
		      veil_mount_policy_allows(&p, "/opt/app config/x.conf") && !veil_mount_policy_allows(&p, "/etc/resolv.conf"),
	      "a list replaces the default");
	CHECK(!veil_mount_policy_allows(&p, "/etc//hosts") && !veil_mount_policy_allows(&p, "/etc/hosts/") &&
		      !veil_mount_policy_allows(&p, "/etc/host") && !veil_mount_policy_allows(&p, "/etc/hosts2"),
	      "a destination matches only as written");

	char many[4096] = "[mounts]\nallow = [";
	for (int i = 0; i <= VEIL_MOUNT_ALLOW_MAX; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"/f%d\"", i > 0 ? ", " : "", i);
	strcat(many, "]");
	tap_expect_error(mounts_of(many, &p, &err), &err, "init-data veil.toml: [mounts] allow: more than 32 paths",
		     "at most 32 paths");
	char longest[512], too_long[512];
	snprintf(longest, sizeof(longest), "[mounts]\nallow = [\"/%0*d\"]", VEIL_MOUNT_PATH_MAX - 1, 0);
	snprintf(too_long, sizeof(too_long), "[mounts]\nallow = [\"/%0*d\"]", VEIL_MOUNT_PATH_MAX, 0);
	CHECK(mounts_of(longest, &p, &err) == 0 && p.n == 1 && strlen(p.destinations[0]) == VEIL_MOUNT_PATH_MAX,
	      "a path of %d bytes", VEIL_MOUNT_PATH_MAX);
	tap_expect_error(mounts_of(too_long, &p, &err), &err, "init-data veil.toml: [mounts] allow: \"/000",
		     "a path of 256 bytes is refused");

	static const struct {
		const char *toml, *msg;
	} bad[] = {
		{ "[mounts]\nallow = [\"etc/hosts\"]", "init-data veil.toml: [mounts] allow: \"etc/hosts\" is not an absolute path" },
		{ "[mounts]\nallow = [\"/\"]", "init-data veil.toml: [mounts] allow: \"/\" is not an absolute path of a file" },
		{ "[mounts]\nallow = [\"/etc/\"]", "init-data veil.toml: [mounts] allow: \"/etc/\" is not normalised" },
		{ "[mounts]\nallow = [\"/etc//hosts\"]", "init-data veil.toml: [mounts] allow: \"/etc//hosts\" is not normalised" },
		{ "[mounts]\nallow = [\"/etc/./hosts\"]", "init-data veil.toml: [mounts] allow: \"/etc/./hosts\" is not normalised" },
		{ "[mounts]\nallow = [\"/x/../etc/shadow\"]",
		  "init-data veil.toml: [mounts] allow: \"/x/../etc/shadow\" is not normalised" },
		{ "[mounts]\nallow = [\"/etc/ho\\tsts\"]", "init-data veil.toml: [mounts] allow: \"/etc/ho?sts\": control character 0x09" },
		{ "[mounts]\nallow = [\"/etc/hosts\", \"/etc/hosts\"]", "init-data veil.toml: [mounts] allow: /etc/hosts is named twice" },
		{ "[mounts]\nallow = \"/etc/hosts\"", "init-data veil.toml: 2:9: mounts.allow: expected array" },
		{ "[mounts]\nallow = [1]", "init-data veil.toml: 2:10: mounts.allow[0]: expected string" },
		{ "[mounts]\nallow = [\"/etc/hosts\"]\nkind = \"file\"",
		  "init-data veil.toml: 3:1: unknown key \"kind\" in [mounts] (expected allow)" },
		{ "[mounts]\n", "init-data veil.toml: [mounts] without allow: write allow = [] to allow no host file" },
		{ "mounts = 1", "init-data veil.toml: 1:10: mounts: expected table" },
		{ "[volumes]\nallow = []", "init-data veil.toml: 1:2: unknown key \"volumes\" (expected [secrets] or [mounts])" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		tap_expect_error(mounts_of(bad[i].toml, &p, &err), &err, bad[i].msg, bad[i].msg);
}

static void test_tee_wire(void)
{
	struct veil_tee_request req = { .op = VEIL_TEE_OP_REPORT, .vmpl = 2 }, back;
	memset(req.report_data, 0x5a, sizeof(req.report_data));
	uint8_t buf[1 + 64 + 4];
	size_t len = veil_tee_request_encode(&req, buf);
	const char *why = NULL;
	CHECK(len == 69 && veil_tee_request_decode(buf, len, &back, &why) == 0 && back.op == VEIL_TEE_OP_REPORT &&
		      back.vmpl == 2 && memcmp(back.report_data, req.report_data, 64) == 0,
	      "report request round trip");
	buf[68] = 4;
	CHECK(veil_tee_request_decode(buf, len, &back, &why) < 0 && strcmp(why, "VMPL is 0 to 3") == 0, "VMPL 4 refused");
	CHECK(veil_tee_request_decode(buf, 10, &back, &why) < 0, "a short report request refused");
	const uint8_t init[2] = { VEIL_TEE_OP_INIT_DATA, 0 };
	CHECK(veil_tee_request_decode(init, 1, &back, &why) == 0 && veil_tee_request_decode(init, 2, &back, &why) < 0,
	      "an init-data request carries nothing");
	const uint8_t unknown[1] = { 9 };
	CHECK(veil_tee_request_decode(unknown, 1, &back, &why) < 0 && strcmp(why, "unknown op") == 0, "unknown op refused");

	struct veil_tee_response resp;
	uint8_t report[1 + 1184 + 3] = { 0 };
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_REPORT, report, sizeof(report), &resp, &why) == 0 && resp.ok &&
		      resp.cert == report + 1 + 1184 && resp.cert_len == 3,
	      "a report answer: the report, then the certificate");
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_REPORT, report, 1 + 1184, &resp, &why) < 0,
	      "a report without a certificate refused");
	const uint8_t error[] = "\001no KBS";
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_KBS_CONNECT, error, sizeof(error) - 1, &resp, &why) == 0 && !resp.ok &&
		      resp.len == 6,
	      "an error answer");
	const uint8_t control[] = "\001bad\nline";
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_KBS_CONNECT, control, sizeof(control) - 1, &resp, &why) < 0,
	      "an error of more than one line refused");
	const uint8_t connected[] = { 0, 1 };
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_KBS_CONNECT, connected, 2, &resp, &why) < 0 &&
		      veil_tee_response_decode(VEIL_TEE_OP_KBS_CONNECT, connected, 1, &resp, &why) == 0,
	      "a connect answer carries nothing");
	const uint8_t status[] = { 2 };
	CHECK(veil_tee_response_decode(VEIL_TEE_OP_INIT_DATA, status, 1, &resp, &why) < 0, "unknown status refused");
}

int main(void)
{
	test_kbs_url();
	test_kbs_from_initdata();
	test_policy();
	test_secrets();
	test_mounts();
	test_tee_wire();
	return tap_done();
}
