// LeakSanitizer's suppressions hook, linked into the tray windows' test binaries: fontconfig (loaded by Qt
// for text) keeps a process-wide cache it never frees. Only that library is excused; our own code is not.
extern "C" const char* __lsan_default_suppressions() { return "leak:libfontconfig.so\n"; }
