// Row j's PDFBox peer: PDFTextStripper (what PDFBox's ExtractText runs) over every file
// named on the command line in one JVM, writing each text to OUT/<index>.txt and printing
// the seconds each file took.
import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import org.apache.pdfbox.pdmodel.PDDocument;
import org.apache.pdfbox.text.PDFTextStripper;

public class PdfBoxText {
    public static void main(String[] args) throws Exception {
        File out = new File(args[0]);
        for (int i = 1; i < args.length; i++) {
            long started = System.nanoTime();
            String text;
            try (PDDocument document = PDDocument.load(new File(args[i]))) {
                text = new PDFTextStripper().getText(document);
            } catch (Exception error) {
                text = "";
            }
            double seconds = (System.nanoTime() - started) / 1e9;
            Files.write(new File(out, i + ".txt").toPath(), text.getBytes(StandardCharsets.UTF_8));
            System.out.println(seconds);
        }
    }
}
