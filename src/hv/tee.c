#include "hv/tee.h"

#include <cpuid.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fsutil.h"
#include "lib/spawn.h"

/* ---- the launch ---- */

enum veil_tee veil_tee_configured(const struct veil_config *cfg)
{
	if (!cfg->qemu.confidential_guest || cfg->qemu.tee == NULL)
		return 0;
	return veil_tee_by_name(cfg->qemu.tee);
}

/* CPUID 0x8000001F (AMD memory encryption): EBX[5:0] is the C-bit's
 * position, EBX[11:6] how many physical address bits it costs. */
static void snp_cpu_bits(uint32_t *cbitpos, uint32_t *reduced)
{
	unsigned a = 0, b = 0, c = 0, d = 0;
	*cbitpos = *reduced = 0;
	if (__get_cpuid(0x8000001f, &a, &b, &c, &d)) {
		*cbitpos = b & 0x3f;
		*reduced = (b >> 6) & 0x3f;
	}
}

/* The init-data's settings are the guest's to act on; the host reads them
 * to relay to the KBS, and checks all of them now, so that a mistake stops
 * `veil create` rather than a guest that has booted. */
static int check_init_data(struct veil_tee_config *tc, veil_err_t *err)
{
	struct veil_agent_policy policy;
	struct veil_secret_ref refs[VEIL_MAX_SECRETS];
	struct veil_mount_policy mounts;
	size_t n;
	veil_kbs_address_free(&tc->kbs);
	if (tc->init_data.text == NULL)
		return 0;
	if (veil_initdata_kbs(&tc->init_data, &tc->kbs, err) < 0 || veil_initdata_policy(&tc->init_data, &policy, err) < 0 ||
	    veil_initdata_secrets(&tc->init_data, refs, VEIL_MAX_SECRETS, &n, err) < 0 ||
	    veil_initdata_mounts(&tc->init_data, &mounts, err) < 0)
		return -1;
	return 0;
}

int veil_tee_config_set_init_data(struct veil_tee_config *tc, const char *toml, size_t len, veil_err_t *err)
{
	veil_initdata_free(&tc->init_data);
	if (veil_initdata_parse(toml, len, &tc->init_data, err) < 0)
		return -1;
	return check_init_data(tc, err);
}

int veil_tee_config_from(const struct veil_config *cfg, struct veil_tee_config *tc, veil_err_t *err)
{
	memset(tc, 0, sizeof(*tc));
	if (!cfg->qemu.confidential_guest)
		return veil_fail_tagged(err, EINVAL, "the configuration does not ask for a confidential guest");
	tc->tee = veil_tee_configured(cfg);
	tc->firmware = cfg->qemu.firmware;
	tc->chip_dir = cfg->qemu.emulated_tee_dir;
	tc->snp_vcpu_type = cfg->qemu.snp_vcpu_type;
	tc->snp_guest_features = cfg->qemu.snp_guest_features;
	if (tc->tee == VEIL_TEE_SNP)
		snp_cpu_bits(&tc->cbitpos, &tc->reduced_phys_bits);
	if (cfg->qemu.init_data == NULL)
		return 0;
	size_t len;
	cleanup_free char *text = veil_read_file(cfg->qemu.init_data, VEIL_INITDATA_MAX + 1, &len, err);
	if (text == NULL || veil_tee_config_set_init_data(tc, text, len, err) < 0) {
		veil_tee_config_free(tc);
		return veil_fail_context(err, "[hypervisor.qemu] init_data %s", cfg->qemu.init_data);
	}
	return 0;
}

void veil_tee_config_free(struct veil_tee_config *tc)
{
	veil_initdata_free(&tc->init_data);
	veil_kbs_address_free(&tc->kbs);
	memset(tc, 0, sizeof(*tc));
}

size_t veil_tee_config_field(const struct veil_tee_config *tc, uint8_t field[48])
{
	size_t len = tc->tee == VEIL_TEE_TDX ? VEIL_TDX_MRCONFIGID_SIZE : VEIL_SNP_HOST_DATA_SIZE;
	memset(field, 0, 48);
	if (tc->init_data.text != NULL)
		veil_initdata_tee_field(&tc->init_data, field, len);
	return len;
}

/* ---- what the host lacks ---- */

__attribute__((format(printf, 3, 4))) static void add_missing(char *list, size_t size, const char *fmt, ...)
{
	size_t used = strlen(list);
	if (used > 0 && used + 2 < size) {
		memcpy(list + used, "; ", 3);
		used += 2;
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(list + used, size - used, fmt, ap);
	va_end(ap);
}

/* A kernel module's boolean parameter: "Y" or "1" is on. */
static void check_module_param(const char *module, const char *param, char *missing, size_t size)
{
	char path[128], value[16] = "";
	snprintf(path, sizeof(path), "/sys/module/%s/parameters/%s", module, param);
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		char mod[128];
		snprintf(mod, sizeof(mod), "/sys/module/%s", module);
		if (access(mod, F_OK) < 0)
			add_missing(missing, size, "%s is not loaded (%s)", module, path);
		else
			add_missing(missing, size, "%s has no %s parameter (%s): its kernel is too old", module, param, path);
		return;
	}
	ssize_t n = read(fd, value, sizeof(value) - 1);
	value[n > 0 ? n : 0] = '\0';
	if (value[0] != 'Y' && value[0] != '1')
		add_missing(missing, size, "%s %s is off (%s reads %.8s)", module, param, path, value);
}

/* QEMU's user-creatable objects (`-object help`), in a malloc'd string. */
static char *qemu_objects(const char *qemu)
{
	cleanup_close int out = memfd_create("veil-qemu-objects", MFD_CLOEXEC);
	if (out < 0)
		return NULL;
	char *const argv[] = { (char *)qemu, "-object", "help", NULL };
	struct veil_spawn_opts opts = { .stdout_fd = out, .stderr_fd = -1 };
	pid_t pid;
	veil_err_t err = NULL;
	if (veil_spawn(argv, &opts, &pid, &err) < 0) {
		veil_error_free(&err);
		return NULL;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	char *text = calloc(1, 64 << 10);
	if (text != NULL && pread(out, text, (64 << 10) - 1, 0) < 0) {
		free(text);
		return NULL;
	}
	return text;
}

static bool lists_object(const char *objects, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = objects; (p = strstr(p, name)) != NULL; p += n)
		if ((p == objects || p[-1] == ' ' || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
			return true;
	return false;
}

void veil_tee_host_missing(enum veil_tee tee, const char *qemu, const char *firmware, char *missing, size_t size)
{
	missing[0] = '\0';
	if (tee == VEIL_TEE_EMULATED)
		return;
	bool snp = tee == VEIL_TEE_SNP;
	if (access("/dev/kvm", R_OK | W_OK) < 0)
		add_missing(missing, size, "/dev/kvm (%s)", strerror(errno));
	if (snp) {
		check_module_param("kvm_amd", "sev_snp", missing, size);
		if (access("/dev/sev", R_OK | W_OK) < 0)
			add_missing(missing, size, "/dev/sev, the AMD secure processor (%s)", strerror(errno));
	} else {
		check_module_param("kvm_intel", "tdx", missing, size);
	}
	const char *object = snp ? "sev-snp-guest" : "tdx-guest";
	cleanup_free char *objects = qemu_objects(qemu);
	if (objects == NULL)
		add_missing(missing, size, "QEMU %s cannot be run to list its objects", qemu);
	else if (!lists_object(objects, object))
		add_missing(missing, size, "QEMU %s has no %s object (%s)", qemu, object,
			    snp ? "QEMU 9.1 or later" : "QEMU 10.1 or later");
	if (objects != NULL && !lists_object(objects, "memory-backend-memfd"))
		add_missing(missing, size, "QEMU %s has no memory-backend-memfd object", qemu);
	if (firmware == NULL)
		add_missing(missing, size, "firmware (%s) is not configured ([hypervisor.qemu] firmware)",
			    snp ? "an AmdSev OVMF build with a kernel-hashes table" : "TDVF, an OVMF build for TDX");
	else if (access(firmware, R_OK) < 0)
		add_missing(missing, size, "firmware %s (%s)", firmware, strerror(errno));
}

int veil_tee_host_check(enum veil_tee tee, const char *qemu, const char *firmware, veil_err_t *err)
{
	char missing[2048];
	veil_tee_host_missing(tee, qemu, firmware, missing, sizeof(missing));
	if (missing[0] == '\0')
		return 0;
	return veil_fail(err, 0, "a confidential guest (tee = \"%s\") cannot run on this host; missing: %s",
			 veil_tee_name(tee), missing);
}
