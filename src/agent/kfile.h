/* Writes to the kernel's control files (cgroupfs, /proc/sys). */
#ifndef VEIL_AGENT_KFILE_H
#define VEIL_AGENT_KFILE_H

/* Writes value in one write(2), as these files expect; 0, or -1 with errno. */
int agent_write_file(const char *path, const char *value);

#endif
