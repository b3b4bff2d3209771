import { formatUsd } from '@tollgate/core'
import { PDFDocument, type PDFFont, type PDFPage, StandardFonts, rgb } from 'pdf-lib'
import { big } from './commerce-db.js'
import { type InvoiceLineRow, type InvoiceRow, invoiceView } from './invoices.js'

/** Money as dollars with cents for print (the exact amount stays in the API). */
function usd(pico: bigint): string {
  const cents = (pico + (pico >= 0n ? 5_000_000_000n : -5_000_000_000n)) / 10_000_000_000n
  const neg = cents < 0n
  const abs = neg ? -cents : cents
  return `${neg ? '-' : ''}$${(abs / 100n).toLocaleString('en-US')}.${(abs % 100n).toString().padStart(2, '0')}`
}

/** The standard fonts only encode WinAnsi: anything else is replaced so a model name cannot break the PDF. */
function printable(text: string): string {
  return text.replace(/[^\x20-\x7E]/g, '?')
}

function fit(font: PDFFont, text: string, size: number, width: number): string {
  let t = printable(text)
  while (t.length > 3 && font.widthOfTextAtSize(t, size) > width) t = `${t.slice(0, -4)}...`
  return t
}

/** Renders an invoice as a one-or-more page A4 PDF with pdf-lib (standard Helvetica, no font files needed). */
export async function renderInvoicePdf(invoice: InvoiceRow, lines: InvoiceLineRow[], parties: { issuerName: string; issuerAddress: string; customerName: string }): Promise<Uint8Array> {
  const view = invoiceView(invoice, lines)
  const doc = await PDFDocument.create()
  doc.setTitle(`Invoice ${invoice.number}`)
  doc.setProducer('Tollgate billing')
  doc.setCreationDate(new Date(invoice.issued_at))
  const font = await doc.embedFont(StandardFonts.Helvetica)
  const bold = await doc.embedFont(StandardFonts.HelveticaBold)
  const margin = 50
  let page: PDFPage = doc.addPage([595.28, 841.89])
  let y = page.getHeight() - margin
  const text = (t: string, x: number, size = 10, f = font) => page.drawText(printable(t), { x, y, size, font: f, color: rgb(0.1, 0.1, 0.1) })
  text(parties.issuerName, margin, 18, bold)
  text(`Invoice ${invoice.number}`, 360, 14, bold)
  y -= 18
  for (const l of parties.issuerAddress.split('\n').filter(Boolean)) {
    text(l, margin, 9)
    y -= 12
  }
  y -= 10
  const facts: [string, string][] = [
    ['Billed to', parties.customerName],
    ['Period', `${view.periodStart} to ${view.periodEnd}`],
    ['Issued', view.issuedAt.slice(0, 10)],
    ['Due date', view.dueDate],
    ['Terms', invoice.net_days > 0 ? `Net ${invoice.net_days}` : 'Prepaid'],
    ['Status', view.status.toUpperCase()],
  ]
  for (const [k, v] of facts) {
    text(k, margin, 10, bold)
    text(v, margin + 90, 10)
    y -= 15
  }
  y -= 15
  const header = () => {
    text('Description', margin, 10, bold)
    text('Quantity', 340, 10, bold)
    text('Amount', 470, 10, bold)
    y -= 6
    page.drawLine({ start: { x: margin, y }, end: { x: 545, y }, thickness: 0.5 })
    y -= 14
  }
  header()
  for (const l of lines) {
    if (y < margin + 60) {
      page = doc.addPage([595.28, 841.89])
      y = page.getHeight() - margin
      header()
    }
    text(fit(font, l.description, 9, 280), margin, 9)
    text(fit(font, `${l.quantity} ${l.unit}`, 9, 120), 340, 9)
    text(usd(big(l.amount)), 470, 9)
    y -= 14
  }
  y -= 4
  page.drawLine({ start: { x: margin, y }, end: { x: 545, y }, thickness: 0.5 })
  y -= 16
  text(invoice.net_days > 0 ? 'Amount due' : 'Total paid', 340, 11, bold)
  text(usd(big(invoice.total)), 470, 11, bold)
  y -= 14
  if (invoice.net_days === 0) {
    text('Usage lines are drawn from prepaid credits and shown for reference.', margin, 8)
    y -= 12
  }
  text(`Exact amount: ${formatUsd(big(invoice.total))} ${invoice.currency.toUpperCase()}`, margin, 8)
  return doc.save()
}
