#include "attest/snp_launch.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#include "attest/pki.h"
#include "lib/cleanup.h"
#include "lib/fsutil.h"

#define PAGE 4096u
#define FOUR_GIB 0x100000000ULL
#define MAX_OVMF (64u << 20)
#define VMSA_GPA 0xfffffffff000ULL /* (u64)-1, page-aligned, bits above 51 clear */
#define BSP_EIP 0xfffffff0u

/* Page types of SNP_LAUNCH_UPDATE (ABI spec). */
enum page_type { PAGE_NORMAL = 1, PAGE_VMSA = 2, PAGE_ZERO = 3, PAGE_SECRETS = 5, PAGE_CPUID = 6 };

/* OVMF SEV metadata section types (edk2 OvmfPkg/ResetVector/X64/OvmfSevMetadata.asm). */
enum section_type { SEC_SNP_SEC_MEM = 1, SEC_SNP_SECRETS = 2, SEC_CPUID = 3, SEC_SVSM_CAA = 4, SEC_KERNEL_HASHES = 0x10 };

/* GUIDs as stored (little-endian fields). */
static const uint8_t GUID_FOOTER[16] = { 0xde, 0x82, 0xb5, 0x96, 0xb2, 0x1f, 0xf7, 0x45,
					 0xba, 0xea, 0xa3, 0x66, 0xc5, 0x5a, 0x08, 0x2d }; /* 96b582de-1fb2-45f7-baea-a366c55a082d */
static const uint8_t GUID_HASH_TABLE_RV[16] = { 0x1f, 0x37, 0x55, 0x72, 0x3b, 0x3a, 0x04, 0x4b,
						0x92, 0x7b, 0x1d, 0xa6, 0xef, 0xa8, 0xd4, 0x54 }; /* 7255371f-3a3b-4b04-927b-1da6efa8d454 */
static const uint8_t GUID_SEV_ES_RESET[16] = { 0xde, 0x71, 0xf7, 0x00, 0x7e, 0x1a, 0xcb, 0x4f,
					       0x89, 0x0e, 0x68, 0xc7, 0x7e, 0x2f, 0xb4, 0x4e }; /* 00f771de-1a7e-4fcb-890e-68c77e2fb44e */
static const uint8_t GUID_SEV_METADATA[16] = { 0x66, 0x65, 0x88, 0xdc, 0x4a, 0x98, 0x98, 0x47,
					       0xa7, 0x5e, 0x55, 0x85, 0xa7, 0xbf, 0x67, 0xcc }; /* dc886566-984a-4798-a75e-5585a7bf67cc */
static const uint8_t GUID_HASH_TABLE_HEADER[16] = { 0x06, 0xd6, 0x38, 0x94, 0x22, 0x4f, 0xc9, 0x4c,
						    0xb4, 0x79, 0xa7, 0x93, 0xd4, 0x11, 0xfd, 0x21 }; /* 9438d606-4f22-4cc9-b479-a793d411fd21 */
static const uint8_t GUID_CMDLINE[16] = { 0xd8, 0x2d, 0xd0, 0x97, 0x20, 0xbd, 0x94, 0x4c,
					  0xaa, 0x78, 0xe7, 0x71, 0x4d, 0x36, 0xab, 0x2a }; /* 97d02dd8-bd20-4c94-aa78-e7714d36ab2a */
static const uint8_t GUID_INITRD[16] = { 0x31, 0xf7, 0xba, 0x44, 0x2f, 0x3a, 0xd7, 0x4b,
					 0x9a, 0xf1, 0x41, 0xe2, 0x91, 0x69, 0x78, 0x1d }; /* 44baf731-3a2f-4bd7-9af1-41e29169781d */
static const uint8_t GUID_KERNEL[16] = { 0x37, 0x94, 0xe7, 0x4d, 0xd2, 0xab, 0x7f, 0x42,
					 0xb8, 0x35, 0xd5, 0xb1, 0x72, 0xd2, 0x04, 0x5b }; /* 4de79437-abd2-427f-b835-d5b172d2045b */

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- OVMF ---- */

struct ovmf {
	const uint8_t *data;
	size_t size;
	/* From the footer table (0 when absent). */
	bool has_hashes_gpa, has_reset_eip, has_metadata;
	uint32_t hashes_gpa, reset_eip, metadata_offset;
};

struct section {
	uint32_t gpa, size, type;
};

/* The footer table ends 32 bytes before the image's end: entries of
 * (data, u16 size, GUID), read backwards from the footer entry, whose size
 * covers the whole table. */
static int parse_footer(struct ovmf *o, veil_err_t *err)
{
	enum { ENTRY = 18 };
	if (o->size < 32 + ENTRY)
		return veil_fail(err, EINVAL, "OVMF: too small for a footer table");
	size_t footer = o->size - 32 - ENTRY;
	if (memcmp(o->data + footer + 2, GUID_FOOTER, 16) != 0)
		return veil_fail(err, EINVAL, "OVMF: no footer table GUID 96b582de-1fb2-45f7-baea-a366c55a082d at the end");
	size_t footer_size = le16(o->data + footer);
	if (footer_size < ENTRY || footer_size - ENTRY > footer)
		return veil_fail(err, EINVAL, "OVMF: footer table size %zu is out of bounds", footer_size);
	size_t table_size = footer_size - ENTRY;
	const uint8_t *table = o->data + footer - table_size;
	for (size_t end = table_size; end >= ENTRY;) {
		const uint8_t *entry = table + end - ENTRY;
		size_t size = le16(entry);
		if (size < ENTRY)
			return veil_fail(err, EINVAL, "OVMF: footer table entry of %zu bytes", size);
		if (size > end)
			break;
		const uint8_t *data = table + end - size;
		size_t data_len = size - ENTRY;
		if (data_len >= 4 && memcmp(entry + 2, GUID_HASH_TABLE_RV, 16) == 0) {
			o->has_hashes_gpa = true;
			o->hashes_gpa = le32(data);
		} else if (data_len >= 4 && memcmp(entry + 2, GUID_SEV_ES_RESET, 16) == 0) {
			o->has_reset_eip = true;
			o->reset_eip = le32(data);
		} else if (data_len >= 4 && memcmp(entry + 2, GUID_SEV_METADATA, 16) == 0) {
			o->has_metadata = true;
			o->metadata_offset = le32(data);
		}
		end -= size;
	}
	return 0;
}

/* The "ASEV" header (signature, u32 size, u32 version 1, u32 count) and
 * count descriptors of (u32 GPA, u32 size, u32 type). */
static int parse_metadata(const struct ovmf *o, struct section **out, size_t *count, veil_err_t *err)
{
	if (!o->has_metadata)
		return veil_fail(err, EINVAL, "OVMF: no SEV metadata (GUID dc886566-984a-4798-a75e-5585a7bf67cc): not an SEV build");
	if (o->metadata_offset < 16 || o->metadata_offset > o->size)
		return veil_fail(err, EINVAL, "OVMF: SEV metadata offset %u is out of bounds", o->metadata_offset);
	const uint8_t *h = o->data + o->size - o->metadata_offset;
	uint32_t size = le32(h + 4), version = le32(h + 8), n = le32(h + 12);
	if (memcmp(h, "ASEV", 4) != 0 || version != 1)
		return veil_fail(err, EINVAL, "OVMF: SEV metadata header is not \"ASEV\" version 1");
	if (size > o->metadata_offset || size < 16 || (size - 16) / 12 < n)
		return veil_fail(err, EINVAL, "OVMF: SEV metadata of %u bytes with %u sections is out of bounds", size, n);
	struct section *s = calloc(n ? n : 1, sizeof(*s));
	if (s == NULL)
		return veil_fail(err, ENOMEM, "OVMF: SEV metadata");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *d = h + 16 + 12 * i;
		s[i] = (struct section){ le32(d), le32(d + 4), le32(d + 8) };
	}
	*out = s;
	*count = n;
	return 0;
}

/* ---- the launch digest ---- */

struct gctx {
	uint8_t ld[48];
	bool failed;
};

static void sha384(const void *data, size_t len, uint8_t out[48], struct gctx *g)
{
	if (EVP_Digest(data, len, out, NULL, EVP_sha384(), NULL) != 1)
		g->failed = true;
}

/* One SNP_LAUNCH_UPDATE step: the PAGE_INFO structure, hashed. */
static void update(struct gctx *g, enum page_type type, uint64_t gpa, const uint8_t contents[48])
{
	uint8_t info[0x70] = { 0 };
	memcpy(info, g->ld, 48);
	memcpy(info + 48, contents, 48);
	put16(info + 96, sizeof(info));
	info[98] = (uint8_t)type;
	/* 99: IMI page, 100-102: VMPL3..1 permissions, 103: reserved: all zero */
	put64(info + 104, gpa);
	sha384(info, sizeof(info), g->ld, g);
}

static void update_normal(struct gctx *g, uint64_t gpa, const uint8_t *pages, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE) {
		uint8_t h[48];
		sha384(pages + off, PAGE, h, g);
		update(g, PAGE_NORMAL, gpa + off, h);
	}
}

static void update_zero(struct gctx *g, uint64_t gpa, size_t len)
{
	static const uint8_t zeros[48];
	for (size_t off = 0; off < len; off += PAGE)
		update(g, PAGE_ZERO, gpa + off, zeros);
}

/* QEMU's SEV hash table (target/i386/sev.c): a header GUID and length, then
 * (GUID, length 50, SHA-256) for the command line, initrd and kernel, padded
 * to 16 bytes. */
static int hashes_page(const struct veil_snp_launch *l, uint32_t offset, uint8_t page[PAGE], veil_err_t *err)
{
	enum { ENTRY = 16 + 2 + 32, TABLE = 16 + 2 + 3 * ENTRY, PADDED = (TABLE + 15) & ~15 };
	if (offset > PAGE - PADDED)
		return veil_fail(err, EINVAL, "OVMF: kernel hashes table at page offset %u does not fit its page", offset);
	uint8_t cmdline_hash[32], initrd_hash[32], kernel_hash[32];
	const char *cmdline = l->cmdline != NULL ? l->cmdline : "";
	if (EVP_Digest(cmdline, strlen(cmdline) + 1, cmdline_hash, NULL, EVP_sha256(), NULL) != 1 ||
	    (l->initrd == NULL && EVP_Digest("", 0, initrd_hash, NULL, EVP_sha256(), NULL) != 1)) {
		ERR_clear_error();
		return veil_fail(err, EIO, "hashing the command line");
	}
	if (l->initrd != NULL && veil_digest_file(l->initrd, EVP_sha256(), initrd_hash, err) < 0)
		return veil_fail_context(err, "initrd");
	if (veil_digest_file(l->kernel, EVP_sha256(), kernel_hash, err) < 0)
		return veil_fail_context(err, "kernel");
	memset(page, 0, PAGE);
	uint8_t *t = page + offset;
	memcpy(t, GUID_HASH_TABLE_HEADER, 16);
	put16(t + 16, TABLE);
	const uint8_t *guids[] = { GUID_CMDLINE, GUID_INITRD, GUID_KERNEL };
	const uint8_t *hashes[] = { cmdline_hash, initrd_hash, kernel_hash };
	for (int i = 0; i < 3; i++) {
		uint8_t *e = t + 18 + i * ENTRY;
		memcpy(e, guids[i], 16);
		put16(e + 16, ENTRY);
		memcpy(e + 18, hashes[i], 32);
	}
	return 0;
}

static int update_sections(struct gctx *g, const struct veil_snp_launch *l, const struct ovmf *o,
			   const struct section *s, size_t n, veil_err_t *err)
{
	bool hashed = false;
	for (size_t i = 0; i < n; i++) {
		if (s[i].size % PAGE != 0 || (s[i].gpa & (PAGE - 1)) != 0)
			return veil_fail(err, EINVAL, "OVMF: SEV metadata section %zu (type %u) is not page-aligned", i,
					 s[i].type);
		switch (s[i].type) {
		case SEC_SNP_SEC_MEM:
		case SEC_SVSM_CAA:
			update_zero(g, s[i].gpa, s[i].size);
			break;
		case SEC_SNP_SECRETS:
			update(g, PAGE_SECRETS, s[i].gpa, (const uint8_t[48]){ 0 });
			break;
		case SEC_CPUID:
			update(g, PAGE_CPUID, s[i].gpa, (const uint8_t[48]){ 0 });
			break;
		case SEC_KERNEL_HASHES:
			if (l->kernel == NULL) {
				update_zero(g, s[i].gpa, s[i].size);
				break;
			}
			if (!o->has_hashes_gpa)
				return veil_fail(err, EINVAL, "OVMF: no SEV hash table GUID in the footer table");
			if (s[i].size != PAGE)
				return veil_fail(err, EINVAL, "OVMF: kernel hashes section of %u bytes (expected one page)",
						 s[i].size);
			uint8_t page[PAGE];
			if (hashes_page(l, o->hashes_gpa & (PAGE - 1), page, err) < 0)
				return -1;
			update_normal(g, s[i].gpa, page, PAGE);
			hashed = true;
			break;
		default:
			return veil_fail(err, EINVAL, "OVMF: unknown SEV metadata section type 0x%x", s[i].type);
		}
	}
	if (l->kernel != NULL && !hashed)
		return veil_fail(err, EINVAL,
				 "OVMF has no SNP_KERNEL_HASHES section: it cannot measure a kernel (use an AmdSev build)");
	return 0;
}

/* ---- VMSAs ---- */

struct cpu_model {
	const char *name;
	int family, model, stepping;
};

/* QEMU's EPYC models (as sev-snp-measure lists them) and their CPUID signature. */
static const struct cpu_model cpu_models[] = {
	{ "EPYC", 23, 1, 2 },	    { "EPYC-v1", 23, 1, 2 },	  { "EPYC-v2", 23, 1, 2 },	{ "EPYC-IBPB", 23, 1, 2 },
	{ "EPYC-v3", 23, 1, 2 },    { "EPYC-v4", 23, 1, 2 },	  { "EPYC-Rome", 23, 49, 0 },	{ "EPYC-Rome-v1", 23, 49, 0 },
	{ "EPYC-Rome-v2", 23, 49, 0 }, { "EPYC-Rome-v3", 23, 49, 0 }, { "EPYC-Milan", 25, 1, 1 }, { "EPYC-Milan-v1", 25, 1, 1 },
	{ "EPYC-Milan-v2", 25, 1, 1 }, { "EPYC-Genoa", 25, 17, 0 },  { "EPYC-Genoa-v1", 25, 17, 0 },
};

/* CPUID Fn0000_0001_EAX (AMD's CPUID specification #25481). */
static uint32_t cpu_signature(const struct cpu_model *m)
{
	uint32_t family_low = m->family > 0xf ? 0xf : (uint32_t)m->family;
	uint32_t family_high = m->family > 0xf ? (uint32_t)(m->family - 0xf) & 0xff : 0;
	return family_high << 20 | ((uint32_t)m->model >> 4 & 0xf) << 16 | family_low << 8 |
	       ((uint32_t)m->model & 0xf) << 4 | ((uint32_t)m->stepping & 0xf);
}

static void put_segment(uint8_t *p, uint16_t selector, uint16_t attrib, uint32_t limit, uint64_t base)
{
	put16(p, selector);
	put16(p + 2, attrib);
	put32(p + 4, limit);
	put64(p + 8, base);
}

/* QEMU's reset state of a vCPU in the SEV-ES save area (Linux's struct
 * sev_es_save_area, APM vol. 2 table B-4), starting at eip. */
static void build_vmsa(uint8_t page[PAGE], uint32_t eip, uint32_t signature, uint64_t features)
{
	memset(page, 0, PAGE);
	put_segment(page + 0x00, 0, 0x93, 0xffff, 0);                   /* es */
	put_segment(page + 0x10, 0xf000, 0x9b, 0xffff, eip & 0xffff0000); /* cs */
	put_segment(page + 0x20, 0, 0x93, 0xffff, 0);                   /* ss */
	put_segment(page + 0x30, 0, 0x93, 0xffff, 0);                   /* ds */
	put_segment(page + 0x40, 0, 0x93, 0xffff, 0);                   /* fs */
	put_segment(page + 0x50, 0, 0x93, 0xffff, 0);                   /* gs */
	put_segment(page + 0x60, 0, 0, 0xffff, 0);                      /* gdtr */
	put_segment(page + 0x70, 0, 0x82, 0xffff, 0);                   /* ldtr */
	put_segment(page + 0x80, 0, 0, 0xffff, 0);                      /* idtr */
	put_segment(page + 0x90, 0, 0x8b, 0xffff, 0);                   /* tr */
	put64(page + 0xd0, 0x1000);                                     /* efer: SVME */
	put64(page + 0x148, 0x40);                                      /* cr4: MCE */
	put64(page + 0x158, 0x10);                                      /* cr0: ET */
	put64(page + 0x160, 0x400);                                     /* dr7 */
	put64(page + 0x168, 0xffff0ff0);                                /* dr6 */
	put64(page + 0x170, 0x2);                                       /* rflags */
	put64(page + 0x178, eip & 0xffff);                              /* rip */
	put64(page + 0x268, 0x0007040600070406ULL);                     /* g_pat */
	put64(page + 0x310, signature);                                 /* rdx: CPUID signature */
	put64(page + 0x3b0, features);                                  /* sev_features */
	put64(page + 0x3e8, 0x1);                                       /* xcr0 */
	put32(page + 0x408, 0x1f80);                                    /* mxcsr */
	put16(page + 0x410, 0x37f);                                     /* x87 fcw */
}

int veil_snp_launch_digest(const struct veil_snp_launch *l, uint8_t out[48], veil_err_t *err)
{
	if (l->ovmf == NULL)
		return veil_fail(err, EINVAL, "SNP launch digest: no firmware");
	if (l->vcpus == 0)
		return veil_fail(err, EINVAL, "SNP launch digest: no vCPUs");
	if (l->cmdline != NULL && l->cmdline[0] != '\0' &&
	    (isspace((unsigned char)l->cmdline[0]) || isspace((unsigned char)l->cmdline[strlen(l->cmdline) - 1])))
		return veil_fail(err, EINVAL,
				 "SNP launch digest: the command line starts or ends with whitespace, which sev-snp-measure "
				 "trims and QEMU hashes: remove it");
	const struct cpu_model *model = NULL;
	for (size_t i = 0; l->vcpu_type != NULL && i < sizeof(cpu_models) / sizeof(cpu_models[0]); i++)
		if (strcasecmp(cpu_models[i].name, l->vcpu_type) == 0)
			model = &cpu_models[i];
	if (model == NULL)
		return veil_fail(err, EINVAL, "SNP launch digest: unknown vCPU type \"%s\" (expected a QEMU EPYC model such as EPYC-v4, EPYC-Milan, EPYC-Genoa)",
				 l->vcpu_type != NULL ? l->vcpu_type : "");

	size_t size = 0;
	cleanup_free char *image = veil_read_file(l->ovmf, MAX_OVMF, &size, err);
	if (image == NULL)
		return veil_fail_context(err, "SNP launch digest: firmware");
	if (size == 0 || size % PAGE != 0)
		return veil_fail(err, EINVAL, "SNP launch digest: firmware %s is %zu bytes, not whole pages", l->ovmf, size);
	struct ovmf o = { .data = (const uint8_t *)image, .size = size };
	cleanup_free struct section *sections = NULL;
	size_t n_sections = 0;
	if (parse_footer(&o, err) < 0 || parse_metadata(&o, &sections, &n_sections, err) < 0)
		return veil_fail_context(err, "SNP launch digest: %s", l->ovmf);
	if (!o.has_reset_eip)
		return veil_fail(err, EINVAL, "SNP launch digest: %s: no SEV-ES reset block in the footer table", l->ovmf);

	struct gctx g = { 0 };
	update_normal(&g, FOUR_GIB - size, o.data, size);
	if (update_sections(&g, l, &o, sections, n_sections, err) < 0)
		return veil_fail_context(err, "SNP launch digest: %s", l->ovmf);
	uint8_t bsp[PAGE], ap[PAGE], h[48];
	uint32_t signature = cpu_signature(model);
	build_vmsa(bsp, BSP_EIP, signature, l->guest_features);
	build_vmsa(ap, o.reset_eip, signature, l->guest_features);
	for (unsigned i = 0; i < l->vcpus; i++) {
		if (i > 0 && o.reset_eip == 0)
			break; /* no AP entry point: only the boot processor is measured, as sev-snp-measure does */
		sha384(i == 0 ? bsp : ap, PAGE, h, &g);
		update(&g, PAGE_VMSA, VMSA_GPA, h);
	}
	if (g.failed) {
		ERR_clear_error();
		return veil_fail(err, EIO, "SNP launch digest: hashing failed");
	}
	memcpy(out, g.ld, 48);
	return 0;
}
