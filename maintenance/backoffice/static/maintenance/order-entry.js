'use strict';
// The order form's live totals: each new line's total (quantity x the part's price) and the
// order's total after saving, updated as parts are picked and quantities typed. The prices come
// with the part picker's results (maintenance.adminkit.site: a ModelAdmin's autocomplete_data).
// The server computes the real total when the order is saved; this only shows it early.
// The saved total and the labels, in the page's language, come on the script tag (data-*):
// the total shown on the page is formatted for the reader (12,50 in Spanish).
const orderEntryScript = document.currentScript;
window.addEventListener('load', function() {
    const $ = window.django && window.django.jQuery;
    const form = document.getElementById('serviceorder_form');
    if (!$ || !form) {
        return;
    }
    const prices = {};  // part id -> price, as the picker reported it
    const settings = orderEntryScript ? orderEntryScript.dataset : {};
    const alreadyOrdered = parseFloat(settings.total || '') || 0;

    const summary = document.createElement('p');
    summary.id = 'live-total';
    summary.className = 'help';
    const group = Array.from(form.querySelectorAll('.inline-group')).find(
        (node) => node.querySelector('select[name$="-spare_part"]:not([disabled])')
    );
    if (!group) {
        return;
    }
    group.appendChild(summary);

    function lineTotalCell(row) {
        let cell = row.querySelector('.live-line-total');
        if (!cell) {
            cell = document.createElement('span');
            cell.className = 'live-line-total';
            const quantity = row.querySelector('input[name$="-quantity"]');
            if (quantity) {
                quantity.insertAdjacentElement('afterend', cell);
            }
        }
        return cell;
    }

    function update() {
        let added = 0;
        group.querySelectorAll('tr.form-row').forEach(function(row) {
            const part = row.querySelector('select[name$="-spare_part"]');
            const quantity = row.querySelector('input[name$="-quantity"]');
            if (!part || !quantity || row.classList.contains('empty-form')) {
                return;
            }
            const price = prices[part.value];
            const count = parseInt(quantity.value, 10);
            const cell = lineTotalCell(row);
            if (price === undefined || !(count > 0)) {
                cell.textContent = '';
                return;
            }
            const line = price * count;
            added += line;
            cell.textContent = ' = ' + line.toFixed(2);
        });
        summary.textContent = (settings.labelNewLines || 'New lines') + ': ' + added.toFixed(2) + ' · ' +
            (settings.labelTotalAfter || 'order total after saving') + ': ' + (alreadyOrdered + added).toFixed(2);
    }

    $(form).on('select2:select', 'select[name$="-spare_part"]', function(event) {
        const data = event.params && event.params.data;
        if (data && data.price !== undefined) {
            prices[data.id] = parseFloat(data.price);
        }
        update();
    });
    form.addEventListener('input', update);
    update();
});
