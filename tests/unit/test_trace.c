/* The start trace: contiguous phases that add up to the whole, guest spans
 * placed on the host's clock, the record it logs and the Chrome file. */
#include <dirent.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/trace.h"
#include "tap.h"

static char dir[] = "/tmp/veil-test-trace.XXXXXX";
static char log_path[4200];

/* The last `trace {...}` record in the log, parsed; NULL if there is none. */
static json_object *last_record(void)
{
	size_t len;
	veil_err_t err = NULL;
	char *text = veil_read_file(log_path, 1 << 20, &len, &err);
	veil_error_free(&err);
	char *at = NULL;
	for (char *p = text; p != NULL && (p = strstr(p, "msg=\"trace {")) != NULL; p++)
		at = p + strlen("msg=\"trace ");
	json_object *o = NULL;
	if (at != NULL) {
		char *end = strstr(at, "}\"\n");
		if (end != NULL)
			end[1] = '\0';
		o = json_tokener_parse(at);
	}
	free(text);
	return o;
}

static int count_records(void)
{
	size_t len;
	veil_err_t err = NULL;
	char *text = veil_read_file(log_path, 1 << 20, &len, &err);
	veil_error_free(&err);
	int n = 0;
	for (char *p = text; p != NULL && (p = strstr(p, "msg=\"trace {")) != NULL; p++)
		n++;
	free(text);
	return n;
}

static double num(json_object *o, const char *key)
{
	json_object *v;
	return json_object_object_get_ex(o, key, &v) ? json_object_get_double(v) : -1;
}

static void test_off(void)
{
	veil_trace_start("config");
	veil_trace_phase("image");
	CHECK(veil_trace_begin("span") == -1, "off: spans get no handle");
	veil_trace_finish("container", "off");
	CHECK(!veil_trace_enabled() && count_records() == 0, "off: finishing logs nothing");
}

static json_object *chrome_file(void);
/* The trace file's complete events ("X") of process pid: how many, and the
 * duration in us of the one called name (-1 if none is). */
static int events(json_object *file, int pid, const char *name, long *dur)
{
	json_object *list, *v;
	int n = 0;
	*dur = -1;
	if (file == NULL || !json_object_object_get_ex(file, "traceEvents", &list))
		return -1;
	for (size_t i = 0; i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		if (!json_object_object_get_ex(e, "ph", &v) || strcmp(json_object_get_string(v), "X") != 0 ||
		    !json_object_object_get_ex(e, "pid", &v) || json_object_get_int(v) != pid)
			continue;
		n++;
		if (json_object_object_get_ex(e, "name", &v) && strcmp(json_object_get_string(v), name) == 0 &&
		    json_object_object_get_ex(e, "dur", &v))
			*dur = (long)json_object_get_int64(v);
	}
	return n;
}

static void test_phases(void)
{
	veil_trace_enable(dir);
	veil_trace_start("config");
	usleep(2000);
	veil_trace_phase("image");
	int span = veil_trace_begin("qmp.cont");
	usleep(3000);
	veil_trace_end(span);
	veil_trace_phase("first_output");
	veil_trace_phase_after("start", "never");
	veil_trace_rename_phase("first_output", "exit");
	veil_trace_phase_after("exit", "teardown");
	veil_trace_phase_after("exit", "not twice");
	veil_trace_label("pooled");
	veil_trace_phase("image"); /* entered again: counted together */
	usleep(1000);
	veil_trace_finish("container", "c1");
	json_object *r = last_record();
	if (!CHECK(r != NULL, "a finished trace logs one record"))
		return;
	json_object *phases, *v;
	json_object_object_get_ex(r, "phases", &phases);
	CHECK(json_object_object_get_ex(r, "how", &v) && strcmp(json_object_get_string(v), "pooled") == 0 &&
		      json_object_object_get_ex(r, "id", &v) && strcmp(json_object_get_string(v), "c1") == 0,
	      "the record names its subject and how it came about");
	double sum = 0;
	json_object_object_foreach(phases, name, value)
	{
		(void)name;
		sum += json_object_get_double(value);
	}
	CHECK(sum > num(r, "total_ms") - 0.5 && sum < num(r, "total_ms") + 0.5, "the phases add up to the total (%.1f, %.1f)",
	      sum, num(r, "total_ms"));
	CHECK(num(phases, "config") >= 2 && num(phases, "image") >= 4, "each phase lasts as long as it was open");
	CHECK(num(phases, "exit") >= 0 && num(phases, "teardown") >= 0 && num(phases, "first_output") < 0 &&
		      num(phases, "never") < 0 && num(phases, "not twice") < 0,
	      "renamed and conditional phases follow the open phase");
	json_object_put(r);
	json_object *file = chrome_file();
	long dur;
	CHECK(events(file, 1, "qmp.cont", &dur) == 6 && dur >= 3000,
	      "the trace file has the 5 phase stays and the host span, with its duration");
	json_object_put(file);
}

/* The Chrome file of the one trace finished into dir, parsed. */
static json_object *chrome_file(void)
{
	DIR *d = opendir(dir);
	json_object *o = NULL;
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		if (e->d_name[0] == '.')
			continue;
		char path[4400];
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (o == NULL)
			o = json_object_from_file(path);
		unlink(path);
	}
	if (d != NULL)
		closedir(d);
	return o;
}

static void test_guest_clock(void)
{
	veil_trace_start("hello");
	int64_t sent = veil_trace_now_ns();
	/* The guest's clock runs 1 s behind; the request took 4 ms, of which it
	 * handled 1 (from 1 ms after it was sent). */
	int64_t behind = 1000000000;
	veil_trace_clock_sample(sent, sent + 4000000, (uint64_t)(sent - behind + 1000000),
				(uint64_t)(sent - behind + 2000000));
	/* A tighter sample later: sent 10 ms after, handled 10.5 to 11, answered at 11.5. */
	veil_trace_clock_sample(sent + 10000000, sent + 11500000, (uint64_t)(sent - behind + 10500000),
				(uint64_t)(sent - behind + 11000000));
	veil_trace_guest("Create<\"x\">", (uint64_t)(sent - behind + 10500000), (uint64_t)(sent - behind + 11000000));
	veil_trace_guest("backwards", 5, 4);
	veil_trace_finish("container", "c2");
	json_object *c = chrome_file();
	long dur;
	CHECK(events(c, 2, "Create__x__", &dur) == 1, "a span that ends before it starts is dropped, and a guest "
	      "span's name is restricted to a safe alphabet");
	CHECK(dur == 500, "the guest's span keeps its duration (%ld us)", dur);
	/* host = guest + offset, with the offset in [1 s - 0.5 ms, 1 s + 0.5 ms]
	 * after both samples: the middle, 1 s. */
	json_object *list, *v;
	long long ts = -1, t0 = -1;
	json_object_object_get_ex(c, "traceEvents", &list);
	for (size_t i = 0; list != NULL && i < json_object_array_length(list); i++) {
		json_object *e = json_object_array_get_idx(list, i);
		json_object_object_get_ex(e, "name", &v);
		const char *name = json_object_get_string(v);
		if (json_object_object_get_ex(e, "ts", &v) && strcmp(name, "Create__x__") == 0)
			ts = json_object_get_int64(v);
		else if (json_object_object_get_ex(e, "ts", &v) && strcmp(name, "hello") == 0)
			t0 = json_object_get_int64(v);
	}
	CHECK(ts - t0 >= 10500 && ts - t0 < 10600,
	      "the guest span is placed by the narrowest offset the samples allow (%lld us in)", ts - t0);
	json_object_put(c);

	/* Without a sample the guest's clock is unknown: its spans are left out. */
	veil_trace_start("hello");
	veil_trace_guest("Hello", 1, 2);
	veil_trace_finish("container", "c3");
	c = chrome_file();
	CHECK(events(c, 2, "Hello", &dur) == 0 && events(c, 1, "hello", &dur) == 1,
	      "guest spans without a clock sample are not placed");
	json_object_put(c);
}

static void test_full(void)
{
	veil_trace_start("config");
	for (int i = 0; i < 1000; i++)
		veil_trace_end(veil_trace_begin("many"));
	veil_trace_finish("vm", "full");
	json_object *r = last_record();
	CHECK(r && num(r, "dropped_spans") > 0, "spans beyond the table are counted as dropped");
	json_object_put(r);
	json_object_put(chrome_file());
}

int main(void)
{
	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(log_path, sizeof(log_path), "%s.log", dir);
	veil_log_init(log_path, VEIL_LOG_TEXT, VEIL_LOG_INFO, false);
	test_off();
	test_phases();
	test_guest_clock();
	test_full();
	unlink(log_path);
	rmdir(dir);
	return tap_done();
}
