// SPDX-License-Identifier: GPL-2.0
/* The running kernel's preemption model, as far as BPF trampolines care (preempt.h). */
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "preempt.h"

/* Whether `word` is one of the space-separated words of `s`. */
static bool has_word(const char *s, const char *word)
{
	size_t n = strlen(word);
	const char *p = s;

	while ((p = strstr(p, word))) {
		if ((p == s || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
		p += n;
	}
	return false;
}

bool eph_preempt_parse(const char *uts_version, const char *dyn_modes, char *why, size_t len)
{
	const char *model = NULL;

	if (has_word(uts_version, "PREEMPT_RT"))
		model = "PREEMPT_RT";
	else if (has_word(uts_version, "PREEMPT")) /* CONFIG_PREEMPT, not dynamic */
		model = "full preemption (CONFIG_PREEMPT)";
	else if (has_word(uts_version, "PREEMPT_DYNAMIC") && dyn_modes &&
		 (strstr(dyn_modes, "(full)") || strstr(dyn_modes, "(lazy)")))
		model = strstr(dyn_modes, "(full)") ? "preempt=full" : "preempt=lazy";
	if (model && len)
		snprintf(why, len, "%s", model);
	return model != NULL;
}

bool eph_kernel_preempts_progs(char *why, size_t len)
{
	char modes[128] = "";
	struct utsname u;
	bool have_modes = false;
	FILE *f;

	if (uname(&u))
		return false;
	f = fopen("/sys/kernel/debug/sched/preempt", "r");
	if (f) {
		have_modes = fgets(modes, sizeof(modes), f) != NULL;
		fclose(f);
	}
	/* no debugfs: the mode asked for at boot, if any */
	if (!have_modes && (f = fopen("/proc/cmdline", "r"))) {
		char cmdline[4096];

		if (fgets(cmdline, sizeof(cmdline), f)) {
			cmdline[strcspn(cmdline, "\n")] = '\0';
			if (has_word(cmdline, "preempt=full"))
				have_modes = snprintf(modes, sizeof(modes), "(full)") > 0;
			else if (has_word(cmdline, "preempt=lazy"))
				have_modes = snprintf(modes, sizeof(modes), "(lazy)") > 0;
		}
		fclose(f);
	}
	return eph_preempt_parse(u.version, have_modes ? modes : NULL, why, len);
}
