# The scripted loopback HTTP server (scripted_http_server.h), a test tool for the sync client's tests:
#   include(${PROJECT_SOURCE_DIR}/tests/support/scripted_http_server.cmake)  then link wm_scripted_http_server.
include_guard(GLOBAL)
add_library(wm_scripted_http_server STATIC ${CMAKE_CURRENT_LIST_DIR}/scripted_http_server.cpp)
target_include_directories(wm_scripted_http_server PUBLIC ${CMAKE_CURRENT_LIST_DIR})
target_link_libraries(wm_scripted_http_server PUBLIC wm_sync_client Threads::Threads PRIVATE wm_options)
