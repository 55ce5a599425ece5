/* The process of the factory's warm-up container (docs/vm-cache.md): the
 * guest's mount, namespace, cgroup, fork and exec paths are what the warm-up
 * is for, so the program itself only exits. Static, so that the warm-up's
 * rootfs needs nothing else. */
int main(void)
{
	return 0;
}
