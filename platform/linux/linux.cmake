# The Linux (X11) platform module's dependencies: libxcb and the extensions the capabilities use.
# GLOBAL so the imported target resolves in every directory that links wm_platform (it is a static library).
find_package(PkgConfig REQUIRED)
pkg_check_modules(WM_XCB REQUIRED IMPORTED_TARGET GLOBAL xcb xcb-screensaver xcb-res)
target_sources(wm_platform PRIVATE ${CMAKE_CURRENT_LIST_DIR}/xcb_connection.cpp)
target_link_libraries(wm_platform PRIVATE PkgConfig::WM_XCB Threads::Threads)
