#include "agent/passwd.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/resolve.h"
#include "agent/wipe.h"
#include "lib/cleanup.h"

/* The container's file, read once per process it starts: bounded. */
#define PASSWD_MAX (1u << 20)

/* Field i (from 0) of a ':'-separated line of len bytes: start and length. */
static int field(const char *line, size_t len, int i, const char **start, size_t *flen)
{
	const char *p = line, *end = line + len;
	for (; i > 0; i--) {
		p = memchr(p, ':', (size_t)(end - p));
		if (p == NULL)
			return -1;
		p++;
	}
	const char *stop = memchr(p, ':', (size_t)(end - p));
	*start = p;
	*flen = (size_t)((stop != NULL ? stop : end) - p);
	return 0;
}

int agent_passwd_home(const char *text, size_t len, uint32_t uid, char *home, size_t size)
{
	for (const char *line = text, *end = text + len; line < end;) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = (size_t)((nl != NULL ? nl : end) - line);
		const char *u, *h;
		size_t ulen, hlen;
		if (field(line, n, 2, &u, &ulen) == 0 && field(line, n, 5, &h, &hlen) == 0 && ulen > 0 && ulen <= 10 &&
		    strspn(u, "0123456789") >= ulen && hlen < size) {
			char digits[11];
			memcpy(digits, u, ulen);
			digits[ulen] = '\0';
			unsigned long v = strtoul(digits, NULL, 10);
			if (v == uid) {
				memcpy(home, h, hlen);
				home[hlen] = '\0';
				return 0;
			}
		}
		line += n + 1;
	}
	return -1;
}

void agent_passwd_home_in(int root, uint32_t uid, char *home, size_t size)
{
	cleanup_close int fd = agent_resolve(root, "/etc/passwd", O_RDONLY);
	if (fd < 0)
		return;
	cleanup_wipe char *text = malloc(PASSWD_MAX);
	if (text == NULL)
		return;
	size_t len = 0;
	ssize_t n;
	while (len < PASSWD_MAX && (n = read(fd, text + len, PASSWD_MAX - len)) > 0)
		len += (size_t)n;
	agent_passwd_home(text, len, uid, home, size);
}
