package com.example.app;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The Lambda entry point: {@code com.example.app.LambdaHandler::handleRequest}.
 *
 * <p>A plain handler: the Java runtime passes the event as a Map and serializes the
 * returned Map, so the jar needs no AWS library. It accepts function URL and HTTP API
 * events (payload format 2.0) and REST API events (payload format 1.0).
 */
public final class LambdaHandler {

    private final Router router;

    /** Called by the Lambda runtime once per execution environment. */
    public LambdaHandler() {
        this(new Router(ServiceInfo.fromEnvironment(System.getenv())));
    }

    LambdaHandler(Router router) {
        this.router = router;
    }

    public Map<String, Object> handleRequest(Map<String, Object> event) {
        long start = System.nanoTime();
        Map<String, Object> in = event == null ? Map.of() : event;
        Map<String, Object> http = object(object(in.get("requestContext")).get("http"));
        String method = firstString(http.get("method"), in.get("httpMethod"));
        String path = firstString(in.get("rawPath"), in.get("path"));

        Response response = router.handle(method, path, query(in));
        App.logRequest(method, path, response.status(), start);

        Map<String, Object> result = new LinkedHashMap<>();
        result.put("statusCode", response.status());
        result.put("headers", response.headers());
        result.put("body", "HEAD".equals(method) ? "" : response.body()); // HEAD: as GET, without a body
        return result;
    }

    /** The decoded query: from rawQueryString (2.0) if present, else queryStringParameters. */
    private static Map<String, String> query(Map<String, Object> event) {
        if (event.get("rawQueryString") instanceof String raw && !raw.isEmpty()) {
            return Router.parseQuery(raw);
        }
        Map<String, String> query = new HashMap<>();
        object(event.get("queryStringParameters")).forEach((name, value) -> {
            if (value != null) {
                query.put(name, value.toString());
            }
        });
        return query;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> object(Object value) {
        return value instanceof Map ? (Map<String, Object>) value : Map.of();
    }

    private static String firstString(Object... values) {
        for (Object value : values) {
            if (value instanceof String text && !text.isEmpty()) {
                return text;
            }
        }
        return "";
    }
}
