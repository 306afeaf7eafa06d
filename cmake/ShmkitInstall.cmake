# install(): headers, the library, a CMake package (find_package(shmkit CONFIG)) and shmkit.pc.
include(CMakePackageConfigHelpers)

install(TARGETS shmkit EXPORT shmkitTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/lib/include/shmkit DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(FILES ${PROJECT_BINARY_DIR}/lib/include/shmkit/version.hpp ${PROJECT_BINARY_DIR}/lib/include/shmkit/backend.hpp
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/shmkit)

set(SHMKIT_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/shmkit)
install(EXPORT shmkitTargets NAMESPACE shmkit:: DESTINATION ${SHMKIT_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/shmkitConfig.cmake.in
  ${PROJECT_BINARY_DIR}/shmkitConfig.cmake INSTALL_DESTINATION ${SHMKIT_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/shmkitConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/shmkitConfig.cmake ${PROJECT_BINARY_DIR}/shmkitConfigVersion.cmake
  DESTINATION ${SHMKIT_CMAKE_DIR})

# pkg-config: a static libshmkit.a needs its own dependencies on the link line too.
if(BUILD_SHARED_LIBS)
  set(SHMKIT_PC_LIBS_PRIVATE "-lpthread -lrt")
  set(SHMKIT_PC_LIBS "-L\${libdir} -lshmkit")
else()
  set(SHMKIT_PC_LIBS_PRIVATE "")
  set(SHMKIT_PC_LIBS "-L\${libdir} -lshmkit -lpthread -lrt")
endif()
# Relocatable: prefix is found from the .pc file's own place (--prefix at install time works).
file(RELATIVE_PATH SHMKIT_PC_PREFIX_FROM_PCDIR "/p/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/p")
configure_file(${PROJECT_SOURCE_DIR}/cmake/shmkit.pc.in ${PROJECT_BINARY_DIR}/shmkit.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/shmkit.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
