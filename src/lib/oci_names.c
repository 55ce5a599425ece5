#include "lib/oci_names.h"

#include <string.h>

const char *const oci_capabilities[] = {
	"CAP_CHOWN",	     "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",	      "CAP_FSETID",
	"CAP_KILL",	     "CAP_SETGID",	   "CAP_SETUID",	  "CAP_SETPCAP",      "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN",	  "CAP_NET_RAW",      "CAP_IPC_LOCK",
	"CAP_IPC_OWNER",     "CAP_SYS_MODULE",	   "CAP_SYS_RAWIO",	  "CAP_SYS_CHROOT",   "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",     "CAP_SYS_ADMIN",	   "CAP_SYS_BOOT",	  "CAP_SYS_NICE",     "CAP_SYS_RESOURCE",
	"CAP_SYS_TIME",	     "CAP_SYS_TTY_CONFIG", "CAP_MKNOD",		  "CAP_LEASE",	      "CAP_AUDIT_WRITE",
	"CAP_AUDIT_CONTROL", "CAP_SETFCAP",	   "CAP_MAC_OVERRIDE",	  "CAP_MAC_ADMIN",    "CAP_SYSLOG",
	"CAP_WAKE_ALARM",    "CAP_BLOCK_SUSPEND",  "CAP_AUDIT_READ",	  "CAP_PERFMON",      "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE", NULL,
};

const char *const oci_seccomp_actions[] = {
	"SCMP_ACT_KILL_THREAD", "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_TRAP", "SCMP_ACT_ERRNO",
	"SCMP_ACT_TRACE",	"SCMP_ACT_ALLOW",	 "SCMP_ACT_LOG",  NULL,
};

const char *const oci_seccomp_operators[] = {
	"SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ", NULL,
};

const char *const oci_seccomp_archs[] = {
	"SCMP_ARCH_X86",     "SCMP_ARCH_X86_64",    "SCMP_ARCH_X32",	   "SCMP_ARCH_ARM",
	"SCMP_ARCH_AARCH64", "SCMP_ARCH_MIPS",	    "SCMP_ARCH_MIPS64",	   "SCMP_ARCH_MIPS64N32",
	"SCMP_ARCH_MIPSEL",  "SCMP_ARCH_MIPSEL64",  "SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC",
	"SCMP_ARCH_PPC64",   "SCMP_ARCH_PPC64LE",   "SCMP_ARCH_S390",	   "SCMP_ARCH_S390X",
	"SCMP_ARCH_PARISC",  "SCMP_ARCH_PARISC64",  "SCMP_ARCH_RISCV64",   NULL,
};

const char *const oci_seccomp_flags[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	NULL,
};

const char *const oci_namespace_types[] = {
	"pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time", NULL,
};

const char *const oci_propagations[] = {
	"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable", "runbindable", NULL,
};

int oci_name_number(const char *const *table, const char *name)
{
	for (int i = 0; table[i] != NULL; i++)
		if (strcmp(table[i], name) == 0)
			return i + 1;
	return -1;
}

int oci_capability_number(const char *name)
{
	int n = oci_name_number(oci_capabilities, name);
	return n < 0 ? -1 : n - 1;
}

int oci_seccomp_action_number(const char *name)
{
	if (strcmp(name, "SCMP_ACT_KILL") == 0)
		return 1;
	if (strcmp(name, "SCMP_ACT_NOTIFY") == 0)
		return -2;
	return oci_name_number(oci_seccomp_actions, name);
}
