# The tray core (issue 7): the connection to the agent, the tray icon and menu, sign-in, autostart.
target_sources(wm_tray_ui PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/agent_link.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tray_state.cpp
  ${CMAKE_CURRENT_LIST_DIR}/tray_app.cpp
  ${CMAKE_CURRENT_LIST_DIR}/sign_in_dialog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/window_report.cpp
  ${CMAKE_CURRENT_LIST_DIR}/memory_release.cpp
)
# The wire format and paths only (not the agent's runtime); wm_platform for autostart (a static library:
# only autostart's object is pulled in).
target_link_libraries(wm_tray_ui PUBLIC wm_agent_protocol wm_platform)

add_executable(workmonitor-tray ${CMAKE_CURRENT_LIST_DIR}/main.cpp)
target_link_libraries(workmonitor-tray PRIVATE wm_tray_ui wm_options)
# wm_platform's X11/udev/systemd libraries are for the agent's collectors: the tray must not load them.
target_link_options(workmonitor-tray PRIVATE LINKER:--as-needed)
