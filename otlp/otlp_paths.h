/* Where OTLP profiles go on the wire: the gRPC method, the HTTP path, and the schema
 * version the protobuf definitions in otlp/proto/ follow. */
#ifndef OPD_OTLP_PATHS_H
#define OPD_OTLP_PATHS_H

#define OPD_OTLP_GRPC_PROFILES_METHOD                                                              \
    "/opentelemetry.proto.collector.profiles.v1development.ProfilesService/Export"
#define OPD_OTLP_HTTP_PROFILES_PATH "/v1development/profiles"
#define OPD_OTLP_GRPC_DEFAULT_PORT  4317
#define OPD_OTLP_HTTP_DEFAULT_PORT  4318
/* opentelemetry-proto release whose profiles wire layout otlp/proto/ reproduces. */
#define OPD_OTLP_PROTO_VERSION    "1.11.0"
#define OPD_OTLP_PROFILES_PACKAGE "opentelemetry.proto.profiles.v1development"
#define OPD_OTLP_EXPORT_REQUEST_TYPE                                                               \
    "opentelemetry.proto.collector.profiles.v1development.ExportProfilesServiceRequest"

#endif
