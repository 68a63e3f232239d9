# The mocked logind (logind_mock.h): a private dbus-daemon plus python3-dbusmock's logind template, for any
# test directory that needs lock/sleep signals:
#   include(${PROJECT_SOURCE_DIR}/tests/support/logind_mock.cmake)  then link wm_logind_mock.
# Needs dbus-daemon and Debian's python3-dbusmock (run by /usr/bin/python3) at run time.
include_guard(GLOBAL)
find_package(PkgConfig REQUIRED)
pkg_check_modules(WM_TEST_SYSTEMD REQUIRED IMPORTED_TARGET libsystemd)
add_library(wm_logind_mock STATIC ${CMAKE_CURRENT_LIST_DIR}/logind_mock.cpp)
target_include_directories(wm_logind_mock PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(wm_logind_mock PUBLIC wm_common PRIVATE PkgConfig::WM_TEST_SYSTEMD)
