/* A KBS test client for tests/integration/kbs.t and bench/kbs.sh: it plays a
 * guest whose evidence comes straight from the emulated chip, and can play
 * the attacks the tests need (replayed attestation, tampered REPORT_DATA,
 * altered init-data). Prints each requested resource, then a newline. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "attest/emulated.h"
#include "attest/initdata.h"
#include "attest/kbs_client.h"
#include "attest/snp.h"
#include "lib/cleanup.h"
#include "lib/clock.h"
#include "lib/fsutil.h"
#include "lib/hex.h"
#include "lib/json.h"

struct guest {
	struct veil_emulated_chip *chip;
	json_object *fixed_evidence;  /* --evidence-file: real evidence, replayed as is */
	uint8_t measurement[48];
	uint8_t host_data[32];
	bool debug, tamper_report_data;
	long long evidence_us;       /* time spent making evidence (the "hardware") */
};

static int emulated_evidence(void *ctx, const uint8_t report_data[64], json_object **evidence, veil_err_t *err)
{
	struct guest *g = ctx;
	if (g->fixed_evidence != NULL) {
		*evidence = json_object_get(g->fixed_evidence);
		return 0;
	}
	long long start = veil_now_us();
	struct veil_emulated_report_request req = {
		.policy = VEIL_SNP_POLICY_SMT | VEIL_SNP_POLICY_RESERVED_ONE | (g->debug ? VEIL_SNP_POLICY_DEBUG : 0),
		.reported_tcb = VEIL_EMULATED_TCB,
	};
	memcpy(req.measurement, g->measurement, 48);
	memcpy(req.host_data, g->host_data, 32);
	memcpy(req.report_data, report_data, 64);
	if (g->tamper_report_data)
		req.report_data[0] ^= 1;
	uint8_t report[VEIL_SNP_REPORT_SIZE];
	if (veil_emulated_chip_sign(g->chip, &req, report, err) < 0)
		return -1;
	size_t vcek_len;
	const uint8_t *vcek = veil_emulated_chip_vcek(g->chip, &vcek_len);
	*evidence = veil_kbs_snp_evidence_build(report, sizeof(report), vcek, vcek_len, err);
	g->evidence_us += veil_now_us() - start;
	return *evidence != NULL ? 0 : -1;
}

static int connect_to(const char *hostport, veil_err_t *err)
{
	char host[64];
	const char *colon = strrchr(hostport, ':');
	if (colon == NULL || (size_t)(colon - hostport) >= sizeof(host))
		return veil_fail(err, 0, "--kbs: expected IP:PORT");
	memcpy(host, hostport, (size_t)(colon - hostport));
	host[colon - hostport] = '\0';
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return veil_fail(err, 0, "--kbs: %s is not an IPv4 address", host);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return veil_fail(err, e, "connecting to %s", hostport);
	}
	return fd;
}

static int hex_arg(const char *s, uint8_t *out, size_t n, veil_err_t *err)
{
	if (strlen(s) != 2 * n)
		return veil_fail(err, 0, "expected %zu hex digits", 2 * n);
	for (size_t i = 0; i < n; i++) {
		int hi = veil_hex_value((unsigned char)s[2 * i]), lo = veil_hex_value((unsigned char)s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return veil_fail(err, 0, "bad hex digit");
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

/* Auth, then POST a previously saved Attestation body: a replay. */
static int replay(int fd, const char *host, const char *file, veil_err_t *err)
{
	const struct veil_kbs_transport t = veil_kbs_fd_transport(&fd);
	size_t len;
	cleanup_free char *body = veil_read_file(file, VEIL_KBS_MAX_ATTESTATION, &len, err);
	cleanup_free char *request = veil_kbs_request_build(VEIL_KBS_TEE_SNP, VEIL_KBS_V0_1_1);
	struct veil_kbs_http_reply r;
	if (body == NULL || veil_kbs_http(&t, "POST", host, "/kbs/v0/auth", NULL, request, strlen(request), 0, &r, err) < 0)
		return -1;
	char cookie[129];
	memcpy(cookie, r.set_cookie, sizeof(cookie));
	veil_kbs_http_reply_free(&r);
	if (veil_kbs_http(&t, "POST", host, "/kbs/v0/attest", cookie, body, len, 0, &r, err) < 0)
		return -1;
	int rc = 0;
	if (r.status != 200) {
		char *kind = NULL, *detail = NULL;
		veil_kbs_error_parse(r.body, r.len, &kind, &detail, NULL);
		rc = veil_fail(err, EPERM, "KBS refused attest (%u %s): %s", r.status, kind ? kind : "?", detail ? detail : r.body);
		free(kind);
		free(detail);
	}
	veil_kbs_http_reply_free(&r);
	return rc;
}

/* The saving run: RCAR by hand, keeping the Attestation body in file. */
static int attest_and_save(int fd, const char *host, struct guest *g, const char *file, veil_err_t *err)
{
	const struct veil_kbs_transport t = veil_kbs_fd_transport(&fd);
	cleanup_free char *request = veil_kbs_request_build(VEIL_KBS_TEE_SNP, VEIL_KBS_V0_1_1);
	struct veil_kbs_http_reply r;
	if (veil_kbs_http(&t, "POST", host, "/kbs/v0/auth", NULL, request, strlen(request), 0, &r, err) < 0)
		return -1;
	char nonce[VEIL_KBS_NONCE_MAX + 1], cookie[129];
	memcpy(cookie, r.set_cookie, sizeof(cookie));
	int rc = veil_kbs_challenge_parse(r.body, r.len, nonce, NULL, err);
	veil_kbs_http_reply_free(&r);
	if (rc < 0)
		return -1;
	EVP_PKEY *key = veil_jose_generate_key(VEIL_JWE_ECDH_ES_A256KW, err);
	cleanup_json json_object *jwk = key ? veil_jwk_from_key(key, VEIL_JWE_ECDH_ES_A256KW, err) : NULL;
	EVP_PKEY_free(key);
	uint8_t rd[64];
	cleanup_json json_object *ev = NULL;
	if (jwk == NULL || veil_kbs_report_data(VEIL_KBS_V0_1_1, nonce, jwk, NULL, rd, err) < 0 ||
	    emulated_evidence(g, rd, &ev, err) < 0)
		return -1;
	cleanup_free char *body = veil_kbs_attestation_build(VEIL_KBS_V0_1_1, nonce, jwk, NULL, ev, NULL, 0, err);
	if (body == NULL || veil_write_file_atomic(file, body, strlen(body), err) < 0 ||
	    veil_kbs_http(&t, "POST", host, "/kbs/v0/attest", cookie, body, strlen(body), 0, &r, err) < 0)
		return -1;
	rc = r.status == 200 ? 0 : veil_fail(err, EPERM, "the saving attestation failed: %s", r.body);
	veil_kbs_http_reply_free(&r);
	return rc;
}

struct args {
	const char *kbs, *chip_dir, *measurement, *init_file, *launched, *save, *replay, *evidence_file;
	const char *snp_report, *vcek;     /* a real report (hex) and its VCEK (DER), sent as they are */
	const char *tenancy;               /* "TENANTS,SCRUBBED,CONTAINERS": sent when the KBS asks */
	enum veil_kbs_tee tee;
	bool rsa, times, v040;
	char **resources;
	int n_resources;
};

static int run(const struct args *a, struct guest *g, veil_err_t *err)
{
	if (a->measurement != NULL && hex_arg(a->measurement, g->measurement, 48, err) < 0)
		return veil_fail_context(err, "--measurement");
	if (a->chip_dir != NULL && veil_emulated_chip_open(a->chip_dir, &g->chip, err) < 0)
		return -1;
	if (a->snp_report != NULL) {
		size_t hex_len, vcek_len;
		cleanup_free char *hex = veil_read_file(a->snp_report, 8192, &hex_len, err);
		cleanup_free char *vcek = hex != NULL ? veil_read_file(a->vcek, 16384, &vcek_len, err) : NULL;
		uint8_t report[VEIL_SNP_REPORT_SIZE];
		size_t n = 0;
		for (size_t i = 0; vcek != NULL && i + 1 < hex_len && n < sizeof(report);) {
			int hi = veil_hex_value((unsigned char)hex[i]), lo = veil_hex_value((unsigned char)hex[i + 1]);
			if (hi < 0) {
				i++;
				continue;
			}
			report[n++] = (uint8_t)(hi << 4 | (lo < 0 ? 0 : lo));
			i += 2;
		}
		if (vcek == NULL)
			return -1;
		g->fixed_evidence = veil_kbs_snp_evidence_build(report, n, (const uint8_t *)vcek, vcek_len, err);
		if (g->fixed_evidence == NULL)
			return -1;
	}
	if (a->evidence_file != NULL) {
		size_t len;
		cleanup_free char *text = veil_read_file(a->evidence_file, VEIL_KBS_MAX_ATTESTATION, &len, err);
		if (text == NULL || veil_json_parse(text, len, a->evidence_file, &g->fixed_evidence, err) < 0)
			return -1;
	}
	/* HOST_DATA: the digest of the init-data the "host" launched with, which
	 * is the init-data sent unless --launched-with says otherwise. */
	cleanup_free char *init = NULL;
	size_t init_len = 0;
	if (a->init_file != NULL && (init = veil_read_file(a->init_file, VEIL_INITDATA_MAX, &init_len, err)) == NULL)
		return -1;
	const char *launch_file = a->launched != NULL ? a->launched : a->init_file;
	if (launch_file != NULL) {
		size_t l;
		cleanup_free char *text = veil_read_file(launch_file, VEIL_INITDATA_MAX, &l, err);
		struct veil_initdata d;
		if (text == NULL || veil_initdata_parse(text, l, &d, err) < 0)
			return -1;
		veil_initdata_tee_field(&d, g->host_data, sizeof(g->host_data));
		veil_initdata_free(&d);
	}
	cleanup_close int fd = connect_to(a->kbs, err);
	if (fd < 0)
		return -1;
	if (a->replay != NULL)
		return replay(fd, a->kbs, a->replay, err);
	if (a->save != NULL)
		return attest_and_save(fd, a->kbs, g, a->save, err);
	struct veil_tenancy tenancy = { 0 };
	if (a->tenancy != NULL &&
	    sscanf(a->tenancy, "%u,%u,%u", &tenancy.tenants, &tenancy.scrubbed, &tenancy.containers) != 3)
		return veil_fail(err, 0, "--tenancy: expected TENANTS,SCRUBBED,CONTAINERS");
	struct veil_kbs_client_opts o = {
		.tee = a->tee, .version = a->v040 ? VEIL_KBS_V0_4_0 : VEIL_KBS_V0_1_1, .alg = a->rsa ? VEIL_JWE_RSA_OAEP_256 : VEIL_JWE_ECDH_ES_A256KW, .host = a->kbs,
		.init_data = init, .init_data_len = init_len, .evidence = emulated_evidence, .evidence_ctx = g,
		.tenancy = a->tenancy != NULL ? &tenancy : NULL,
	};
	struct veil_kbs_client *client = NULL;
	long long t0 = veil_now_us();
	const struct veil_kbs_transport t = veil_kbs_fd_transport(&fd);
	if (veil_kbs_client_attest(&t, &o, &client, err) < 0)
		return -1;
	long long t1 = veil_now_us();
	int rc = 0;
	for (int i = 0; rc == 0 && i < a->n_resources; i++) {
		uint8_t *data;
		size_t len;
		rc = veil_kbs_client_get_resource(client, a->resources[i], &data, &len, err);
		if (rc == 0) {
			fwrite(data, 1, len, stdout);
			putchar('\n');
			free(data);
		}
	}
	long long t2 = veil_now_us();
	if (rc == 0 && a->times)
		fprintf(stderr, "times: attest_us=%lld resource_us=%lld evidence_us=%lld\n", t1 - t0, t2 - t1, g->evidence_us);
	veil_kbs_client_free(client);
	return rc;
}

static const char usage[] =
	"usage: kbs-test-client --kbs IP:PORT --chip DIR --measurement HEX [--init-data FILE]\n"
	"       [--launched-with FILE] [--debug] [--rsa] [--tamper-report-data] [--times] [--protocol-0.4.0]\n"
	"       [--save-attestation FILE | --replay-attestation FILE]\n"
	"       [--evidence-file FILE [--tdx]]   send this (real) evidence as is\n"
	"       [--snp-report HEX_FILE --vcek DER_FILE]   send this real SNP report\n"
	"       [--tenancy TENANTS,SCRUBBED,CONTAINERS]   the VM's history, when the KBS asks\n"
	"       [RESOURCE...]\n";

int main(int argc, char **argv)
{
	static const struct option longs[] = {
		{ "kbs", required_argument, NULL, 'k' },	{ "chip", required_argument, NULL, 'c' },
		{ "measurement", required_argument, NULL, 'm' }, { "init-data", required_argument, NULL, 'i' },
		{ "launched-with", required_argument, NULL, 'l' }, { "debug", no_argument, NULL, 'd' },
		{ "rsa", no_argument, NULL, 'r' },		{ "tamper-report-data", no_argument, NULL, 't' },
		{ "save-attestation", required_argument, NULL, 's' }, { "replay-attestation", required_argument, NULL, 'p' },
		{ "times", no_argument, NULL, 'T' },		{ "protocol-0.4.0", no_argument, NULL, 'V' },
		{ "tdx", no_argument, NULL, 'X' },		{ "evidence-file", required_argument, NULL, 'e' },
		{ "snp-report", required_argument, NULL, 'R' },	{ "vcek", required_argument, NULL, 'C' },
		{ "tenancy", required_argument, NULL, 'N' },
		{ NULL, 0, NULL, 0 }
	};
	struct args a = { .tee = VEIL_KBS_TEE_SNP };
	struct guest g = { 0 };
	int c;
	while ((c = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (c) {
		case 'k': a.kbs = optarg; break;
		case 'c': a.chip_dir = optarg; break;
		case 'm': a.measurement = optarg; break;
		case 'i': a.init_file = optarg; break;
		case 'l': a.launched = optarg; break;
		case 'd': g.debug = true; break;
		case 'r': a.rsa = true; break;
		case 't': g.tamper_report_data = true; break;
		case 's': a.save = optarg; break;
		case 'p': a.replay = optarg; break;
		case 'T': a.times = true; break;
		case 'V': a.v040 = true; break;
		case 'X': a.tee = VEIL_KBS_TEE_TDX; break;
		case 'e': a.evidence_file = optarg; break;
		case 'R': a.snp_report = optarg; break;
		case 'C': a.vcek = optarg; break;
		case 'N': a.tenancy = optarg; break;
		default: fputs(usage, stderr); return 2;
		}
	}
	bool fixed = a.evidence_file != NULL || (a.snp_report != NULL && a.vcek != NULL);
	if (a.kbs == NULL || (a.replay == NULL && !fixed && (a.chip_dir == NULL || a.measurement == NULL))) {
		fputs(usage, stderr);
		return 2;
	}
	a.resources = argv + optind;
	a.n_resources = argc - optind;
	veil_err_t err = NULL;
	int rc = run(&a, &g, &err);
	veil_emulated_chip_free(g.chip);
	json_object_put(g.fixed_evidence);
	if (rc < 0) {
		fprintf(stderr, "kbs-test-client: %s\n", err->msg);
		veil_error_free(&err);
		return 1;
	}
	return 0;
}
