// A small JVM HTTP service whose heap is bounded, or grows by one rendered page per request.
//
// JDK 11+ standard library only (com.sun.net.httpserver). Used by leakproof's JVM-agent tests and
// by scripts/runtime-verdicts.sh:
//
//     javac -d /tmp/jvm examples/JvmService.java
//     java -cp /tmp/jvm JvmService --port 8080          # keeps the last 32 pages: Stable
//     java -cp /tmp/jvm JvmService --port 8080 --leak   # keeps every page (1 KiB byte[]): grows
//
// It prints `listening on PORT` once it accepts connections (port 0 picks a free port).
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

public class JvmService {
    static final ArrayDeque<byte[]> RECENT = new ArrayDeque<>();
    static final List<byte[]> KEPT = new ArrayList<>();
    static long count = 0;

    /** Keeps a rendered page per request: every page with --leak, the last 32 otherwise. */
    static synchronized void remember(boolean leak) {
        count++;
        byte[] page = render(count);
        if (leak) {
            KEPT.add(page); // the growing line with --leak
        } else {
            RECENT.addLast(page);
            if (RECENT.size() > 32) {
                RECENT.removeFirst();
            }
        }
    }

    static byte[] render(long n) {
        StringBuilder page = new StringBuilder(1024);
        while (page.length() < 1000) {
            page.append(String.format("<li>request %06d</li>%n", n));
        }
        page.setLength(1000);
        return page.toString().getBytes(StandardCharsets.US_ASCII);
    }

    public static void main(String[] args) throws Exception {
        int port = 0;
        boolean leak = false;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--port")) {
                port = Integer.parseInt(args[++i]);
            } else if (args[i].equals("--leak")) {
                leak = true;
            }
        }
        final boolean leaking = leak;
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", exchange -> {
            remember(leaking);
            byte[] body = "ok\n".getBytes(StandardCharsets.US_ASCII);
            exchange.sendResponseHeaders(200, body.length);
            exchange.getResponseBody().write(body);
            exchange.close();
        });
        server.start();
        System.out.println("listening on " + server.getAddress().getPort());
        System.out.flush();
    }
}
