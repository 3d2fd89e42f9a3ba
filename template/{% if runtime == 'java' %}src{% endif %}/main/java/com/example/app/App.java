package com.example.app;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/** The long-lived HTTP server for ECS and EC2: {@code java -jar target/app.jar}. */
public final class App {

    private static final int DEFAULT_PORT = 8080;
    private static final int WORKER_THREADS = 32;

    /**
     * How long requests in flight get to finish after SIGTERM; keep it below the ECS
     * stopTimeout (30s by default). Java 21 and later stop sooner once they are done.
     */
    private static final int SHUTDOWN_GRACE_SECONDS = 10;

    private App() {
    }

    public static void main(String[] args) throws IOException {
        Router router = new Router(ServiceInfo.fromEnvironment(System.getenv()));
        HttpServer server = HttpServer.create(new InetSocketAddress("0.0.0.0", port(System.getenv("PORT"))), 0);
        ExecutorService workers = Executors.newFixedThreadPool(WORKER_THREADS);
        server.setExecutor(workers);
        server.createContext("/", exchange -> handle(router, exchange));

        // ECS, systemd and Ctrl-C stop the JVM with a signal, which runs this hook.
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            log("shutting down");
            server.stop(SHUTDOWN_GRACE_SECONDS);
            workers.shutdown();
            log("stopped");
        }, "shutdown"));

        server.start();
        log("listening on port " + server.getAddress().getPort());
    }

    private static void handle(Router router, HttpExchange exchange) throws IOException {
        long start = System.nanoTime();
        try (exchange) {
            String method = exchange.getRequestMethod();
            URI uri = exchange.getRequestURI();
            Response response = router.handle(method, uri.getPath(), Router.parseQuery(uri.getRawQuery()));

            response.headers().forEach(exchange.getResponseHeaders()::set);
            byte[] body = response.body().getBytes(StandardCharsets.UTF_8);
            // A response to HEAD has headers only (-1: no body).
            boolean head = "HEAD".equals(method);
            exchange.sendResponseHeaders(response.status(), head ? -1 : body.length);
            if (!head) {
                exchange.getResponseBody().write(body);
            }
            log(method + " " + uri.getRawPath() + " " + response.status() + " " + (System.nanoTime() - start) / 1000 + "us");
        }
    }

    static int port(String value) {
        if (value == null || value.isEmpty()) {
            return DEFAULT_PORT;
        }
        try {
            return Integer.parseInt(value);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("PORT must be a number, not '" + value + "'", e);
        }
    }

    static void log(String message) {
        System.out.println(Instant.now() + " " + message);
    }
}
