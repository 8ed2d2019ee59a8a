// Reference driver for the differential test: Quartz 2.3's CronExpression.
// Reads lines "expression<TAB>zone<TAB>start epoch seconds<TAB>count" on stdin and
// answers each with "OK <epoch seconds>..." (the next `count` fires, fewer if
// Quartz runs out) or "ERR <message>" when Quartz rejects the expression.
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.Date;
import java.util.TimeZone;
import org.quartz.CronExpression;

public final class QuartzDriver {
    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        PrintWriter out = new PrintWriter(new BufferedWriter(
                new OutputStreamWriter(System.out, StandardCharsets.UTF_8)));
        String line;
        while ((line = in.readLine()) != null) {
            String[] parts = line.split("\t");
            StringBuilder answer = new StringBuilder("OK");
            try {
                CronExpression expression = new CronExpression(parts[0]);
                expression.setTimeZone(TimeZone.getTimeZone(parts[1]));
                Date current = new Date(Long.parseLong(parts[2]) * 1000L);
                int count = Integer.parseInt(parts[3]);
                for (int i = 0; i < count; i++) {
                    current = expression.getTimeAfter(current);
                    if (current == null) {
                        break;
                    }
                    answer.append(' ').append(current.getTime() / 1000L);
                }
                out.println(answer);
            } catch (Exception error) {
                out.println("ERR " + String.valueOf(error.getMessage()).replace('\n', ' '));
            }
        }
        out.flush();
    }
}
