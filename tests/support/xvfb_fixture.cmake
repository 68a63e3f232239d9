# The Xvfb test desktop (xvfb_fixture.h), as a library for any test directory that needs X11:
#   include(${PROJECT_SOURCE_DIR}/tests/support/xvfb_fixture.cmake)  then link wm_xvfb_fixture.
# Needs the packages in scripts/packages/test.txt at run time (Xvfb, openbox, xdotool, wmctrl, xprop, xterm).
include_guard(GLOBAL)
add_library(wm_xvfb_fixture STATIC ${CMAKE_CURRENT_LIST_DIR}/xvfb_fixture.cpp)
target_include_directories(wm_xvfb_fixture PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(wm_xvfb_fixture PUBLIC wm_common)
