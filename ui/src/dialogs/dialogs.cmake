# The tray's windows (issue 7): consent, idle return, my activity, settings, screenshot notice, and the
# pure models behind their words. Included by ui/CMakeLists.txt into wm_tray_ui.
target_sources(wm_tray_ui PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/dialog_models.cpp
  ${CMAKE_CURRENT_LIST_DIR}/consent_dialog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/idle_return_dialog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/activity_window.cpp
  ${CMAKE_CURRENT_LIST_DIR}/timeline_model.cpp
  ${CMAKE_CURRENT_LIST_DIR}/timeline_layout.cpp
  ${CMAKE_CURRENT_LIST_DIR}/timeline_view.cpp
  ${CMAKE_CURRENT_LIST_DIR}/settings_dialog.cpp
  ${CMAKE_CURRENT_LIST_DIR}/screenshot_notice.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dialog_host_impl.cpp)
