/* Private to otlp/: short names for the protoc-c generated OTLP profile types. */
#ifndef OPD_OTLP_PB_H
#define OPD_OTLP_PB_H

#include "otlp/proto/profiles_service.pb-c.h"

typedef Opentelemetry__Proto__Collector__Profiles__V1development__ExportProfilesServiceRequest
    PbRequest;
typedef Opentelemetry__Proto__Profiles__V1development__ProfilesDictionary PbDictionary;
typedef Opentelemetry__Proto__Profiles__V1development__ResourceProfiles PbResourceProfiles;
typedef Opentelemetry__Proto__Profiles__V1development__ScopeProfiles PbScopeProfiles;
typedef Opentelemetry__Proto__Profiles__V1development__Profile PbProfile;
typedef Opentelemetry__Proto__Profiles__V1development__Link PbLink;
typedef Opentelemetry__Proto__Profiles__V1development__ValueType PbValueType;
typedef Opentelemetry__Proto__Profiles__V1development__Sample PbSample;
typedef Opentelemetry__Proto__Profiles__V1development__Mapping PbMapping;
typedef Opentelemetry__Proto__Profiles__V1development__Stack PbStack;
typedef Opentelemetry__Proto__Profiles__V1development__Location PbLocation;
typedef Opentelemetry__Proto__Profiles__V1development__Line PbLine;
typedef Opentelemetry__Proto__Profiles__V1development__Function PbFunction;
typedef Opentelemetry__Proto__Profiles__V1development__KeyValueAndUnit PbKeyValueAndUnit;
typedef Opentelemetry__Proto__Resource__V1__Resource PbResource;
typedef Opentelemetry__Proto__Common__V1__AnyValue PbAnyValue;
typedef Opentelemetry__Proto__Common__V1__KeyValue PbKeyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope PbScope;

#define PB_REQUEST_INIT                                                                            \
    OPENTELEMETRY__PROTO__COLLECTOR__PROFILES__V1DEVELOPMENT__EXPORT_PROFILES_SERVICE_REQUEST__INIT
#define PB_REQUEST_DESC                                                                            \
    opentelemetry__proto__collector__profiles__v1development__export_profiles_service_request__descriptor
#define PB_DICTIONARY_INIT OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__PROFILES_DICTIONARY__INIT
#define PB_RESOURCE_PROFILES_INIT                                                                  \
    OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__RESOURCE_PROFILES__INIT
#define PB_SCOPE_PROFILES_INIT OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__SCOPE_PROFILES__INIT
#define PB_PROFILE_INIT        OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__PROFILE__INIT
#define PB_LINK_INIT           OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__LINK__INIT
#define PB_VALUE_TYPE_INIT     OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__VALUE_TYPE__INIT
#define PB_SAMPLE_INIT         OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__SAMPLE__INIT
#define PB_MAPPING_INIT        OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__MAPPING__INIT
#define PB_STACK_INIT          OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__STACK__INIT
#define PB_LOCATION_INIT       OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__LOCATION__INIT
#define PB_LINE_INIT           OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__LINE__INIT
#define PB_FUNCTION_INIT       OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__FUNCTION__INIT
#define PB_KVU_INIT            OPENTELEMETRY__PROTO__PROFILES__V1DEVELOPMENT__KEY_VALUE_AND_UNIT__INIT
#define PB_RESOURCE_INIT       OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT
#define PB_ANY_VALUE_INIT      OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT
#define PB_KEY_VALUE_INIT      OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT
#define PB_SCOPE_INIT          OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT

#define PB_V(c) OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_##c

#endif
